"""Writes the tiny fake BraTS subjects in `dummy_data/` (and for tests).

Each fake subject is a 24 x 24 x 12 int16 volume per contrast: an off-centre
ellipsoid "brain" with a smaller "tumour" blob, different tissue values per
contrast, some noise. The five subjects of `dummy_data/` mix both BraTS
namings, `.nii` and `.nii.gz`, LPS and RAS storage, a nested folder, and one
subject without seg; they double as the manual directory of the builder test.

Regenerate (deterministic):

    python -m tfds_brats.brats.make_dummy_data

Example:
>>> from tfds_brats.brats.make_dummy_data import write_fake_subject
>>> paths = write_fake_subject("fake/s1", "s1", naming="brats2023", seed=1)
>>> sorted(path.name for path in paths.values())
['s1-seg.nii.gz', 's1-t1c.nii.gz', 's1-t1n.nii.gz', 's1-t2f.nii.gz', 's1-t2w.nii.gz']
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil

import nibabel as nib
import numpy as np
from nibabel import orientations

from tfds_brats.constants import MODALITIES

DUMMY_SHAPE = (24, 24, 12)
_SUFFIXES = {
    "brats2018-2021": {"t1": "_t1", "t1ce": "_t1ce", "t2": "_t2", "flair": "_flair", "seg": "_seg"},
    "brats2023": {"t1": "-t1n", "t1ce": "-t1c", "t2": "-t2w", "flair": "-t2f", "seg": "-seg"},
}
# Tissue values (brain, tumour) per contrast: the tumour is darker on t1,
# brighter on the others, so a wrongly flipped contrast is easy to spot.
_TISSUE = {"t1": (600, 250), "t1ce": (550, 900), "t2": (300, 800), "flair": (400, 1000)}

# (subject folder relative to dummy_data, subject id, naming, extension, axcodes, seg)
DUMMY_SUBJECTS = (
    ("BraTS2021_00001", "BraTS2021_00001", "brats2018-2021", ".nii.gz", ("L", "P", "S"), True),
    ("BraTS2021_00002", "BraTS2021_00002", "brats2018-2021", ".nii", ("R", "A", "S"), True),
    ("BraTS-GLI-00003-000", "BraTS-GLI-00003-000", "brats2023", ".nii.gz", ("L", "P", "S"), True),
    ("BraTS-GLI-00004-000", "BraTS-GLI-00004-000", "brats2023", ".nii", ("L", "P", "S"), False),
    # Mixed extensions inside one subject: t1 and seg uncompressed.
    (
        "nested/BraTS2021_00005",
        "BraTS2021_00005",
        "brats2018-2021",
        {"t1": ".nii", "seg": ".nii"},
        ("R", "A", "S"),
        True,
    ),
)


def fake_canonical_subject(
    seed: int, shape: tuple[int, int, int] = DUMMY_SHAPE
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Canonical (RAS+) fake contrasts (int16) and seg (labels 1, 2, 4).

    Args:
        seed: int. Noise seed.
        shape: canonical `(X, Y, Z)`.

    Example:
    >>> import numpy as np
    >>> volumes, seg = fake_canonical_subject(0)
    >>> sorted(volumes), volumes["t1"].dtype.name, np.unique(seg).tolist()
    (['flair', 't1', 't1ce', 't2'], 'int16', [0, 1, 2, 4])
    """
    rng = np.random.default_rng(seed)
    grid = np.indices(shape, dtype=np.float32)
    centre = np.array([0.45 * shape[0], 0.5 * shape[1], 0.5 * shape[2]])[:, None, None, None]
    radii = np.array([0.38 * shape[0], 0.42 * shape[1], 0.45 * shape[2]])[:, None, None, None]
    brain = (((grid - centre) / radii) ** 2).sum(axis=0) <= 1.0
    tumour_centre = np.array([0.6 * shape[0], 0.4 * shape[1], 0.5 * shape[2]])[:, None, None, None]
    tumour_radii = 0.12 * np.array(shape)[:, None, None, None]
    tumour_distance = np.sqrt((((grid - tumour_centre) / tumour_radii) ** 2).sum(axis=0))
    core = brain & (tumour_distance <= 1.0)
    edema = brain & (tumour_distance <= 1.6) & ~core
    seg = np.zeros(shape, np.uint8)
    seg[edema] = 2
    seg[core] = 4
    seg[core & (tumour_distance <= 0.5)] = 1
    volumes = {}
    for modality in MODALITIES:
        healthy, tumour = _TISSUE[modality]
        volume = np.where(brain, healthy, 0).astype(np.float32)
        volume[core | edema] = tumour
        volume[brain] += rng.normal(0.0, 0.05 * healthy, size=int(brain.sum()))
        volume[brain] = np.maximum(volume[brain], 1.0)  # stay non-zero inside the brain
        volumes[modality] = volume.astype(np.int16)
    return volumes, seg


def store_in_orientation(
    canonical: np.ndarray, axcodes: tuple[str, str, str], zooms=(1.0, 1.0, 1.0)
) -> tuple[np.ndarray, np.ndarray]:
    """`(array, affine)` storing a canonical RAS+ array in another orientation.

    The returned affine maps the stored voxels to the same world positions as
    the canonical grid, so loading and reorienting gives `canonical` back.

    Args:
        canonical: array `[X, Y, Z]` in RAS+.
        axcodes: the storage orientation, e.g. ("L", "P", "S").
        zooms: voxel sizes (mm).

    Example:
    >>> import nibabel as nib, numpy as np
    >>> data, affine = store_in_orientation(np.arange(8).reshape(2, 2, 2), ("L", "P", "S"))
    >>> nib.aff2axcodes(affine), int(data[0, 0, 0])
    (('L', 'P', 'S'), 6)
    """
    canonical_affine = np.diag(list(zooms) + [1.0])
    transform = orientations.ornt_transform(
        orientations.axcodes2ornt(("R", "A", "S")), orientations.axcodes2ornt(axcodes)
    )
    stored = orientations.apply_orientation(canonical, transform)
    affine = canonical_affine @ orientations.inv_ornt_aff(transform, canonical.shape)
    return np.ascontiguousarray(stored), affine


def write_volume(path: os.PathLike, canonical: np.ndarray, axcodes=("R", "A", "S")) -> pathlib.Path:
    """Writes one canonical array as NIfTI stored in `axcodes` orientation.

    Args:
        path: file to write (its folder is created).
        canonical: array `[X, Y, Z]` in RAS+.
        axcodes: the storage orientation.

    Example:
    >>> import numpy as np
    >>> write_volume("volume/v_t1.nii.gz", np.ones((2, 2, 2), np.int16), ("L", "P", "S")).name
    'v_t1.nii.gz'
    """
    data, affine = store_in_orientation(canonical, tuple(axcodes))
    image = nib.Nifti1Image(data, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, os.fspath(path))
    return path


def write_fake_subject(
    folder: os.PathLike,
    subject_id: str,
    *,
    naming: str = "brats2018-2021",
    extension: str | dict[str, str] = ".nii.gz",
    axcodes=("R", "A", "S"),
    with_seg: bool = True,
    seed: int = 0,
    shape: tuple[int, int, int] = DUMMY_SHAPE,
) -> dict[str, pathlib.Path]:
    """Writes a fake subject; returns role -> path (modalities and maybe "seg").

    Args:
        folder: where to write (created).
        subject_id: file-name prefix.
        naming: "brats2018-2021" (`_t1`, ...) or "brats2023" (`-t1n`, ...;
            the seg then uses label 3 for enhancing, as BraTS 2023 does).
        extension: ".nii" or ".nii.gz", or a dict role -> extension (roles
            not in it get ".nii.gz").
        axcodes: storage orientation, e.g. ("L", "P", "S").
        with_seg: bool. write a seg file.
        seed: int. noise seed.
        shape: canonical shape.

    Example:
    >>> paths = write_fake_subject("lps/s1", "s1", axcodes=("L", "P", "S"), with_seg=False)
    >>> sorted(paths), paths["t1"].as_posix()
    (['flair', 't1', 't1ce', 't2'], 'lps/s1/s1_t1.nii.gz')
    """
    if naming not in _SUFFIXES:
        raise ValueError(f"naming must be one of {sorted(_SUFFIXES)}, got {naming!r}")
    folder = pathlib.Path(folder)
    volumes, seg = fake_canonical_subject(seed, shape)
    suffixes = _SUFFIXES[naming]
    if isinstance(extension, str):
        extension = dict.fromkeys(list(MODALITIES) + ["seg"], extension)

    def filename(role):
        return f"{subject_id}{suffixes[role]}{extension.get(role, '.nii.gz')}"

    paths = {}
    for modality in MODALITIES:
        paths[modality] = write_volume(folder / filename(modality), volumes[modality], axcodes)
    if with_seg:
        if naming == "brats2023":
            seg = np.where(seg == 4, 3, seg).astype(np.uint8)
        paths["seg"] = write_volume(folder / filename("seg"), seg, axcodes)
    return paths


def write_dummy_data(root: os.PathLike) -> list[str]:
    """(Re)writes the builder's `dummy_data/` subjects under `root`; returns their ids.

    Args:
        root: folder (each subject's folder under it is replaced).

    Example:
    >>> write_dummy_data("dummy")[:2]
    ['BraTS2021_00001', 'BraTS2021_00002']
    """
    root = pathlib.Path(root)
    written = []
    for index, (folder, subject_id, naming, extension, axcodes, with_seg) in enumerate(DUMMY_SUBJECTS):
        target = root / folder
        if target.exists():
            shutil.rmtree(target)
        write_fake_subject(
            target,
            subject_id,
            naming=naming,
            extension=extension,
            axcodes=axcodes,
            with_seg=with_seg,
            seed=index,
        )
        written.append(subject_id)
    return written


def main(argv=None) -> int:
    """Command line: rewrite `dummy_data/` beside this file (or `--out`).

    Args:
        argv: list of str, or None for `sys.argv[1:]`.

    Example:
    >>> main(["--out", "regenerated"])  # doctest: +ELLIPSIS
    wrote BraTS2021_00001
    ...
    0
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        default=str(pathlib.Path(__file__).parent / "dummy_data"),
        help="folder to write the fake subjects into (default: dummy_data/ beside this file)",
    )
    args = parser.parse_args(argv)
    for subject_id in write_dummy_data(args.out):
        print(f"wrote {subject_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
