"""Finding and loading BraTS subjects from NIfTI files.

A subject is a set of files in one folder that share a name prefix and end in
a contrast tag. Both BraTS namings are recognised, `.nii` or `.nii.gz`:

| contrast | 2018-2021      | 2023 and later |
|----------|----------------|----------------|
| t1       | `<id>_t1`      | `<id>-t1n`     |
| t1ce     | `<id>_t1ce`    | `<id>-t1c`     |
| t2       | `<id>_t2`      | `<id>-t2w`     |
| flair    | `<id>_flair`   | `<id>-t2f`     |
| seg      | `<id>_seg`     | `<id>-seg`     |

Tags are matched case-insensitively; the segmentation is optional; hidden files
(names starting with ".") are ignored. The subject id is the shared prefix.

Every volume is brought to the closest canonical orientation (RAS+: array
axes point Right, Anterior, Superior; `nibabel.as_closest_canonical` does the
same) before anything else, so the contrasts of a subject line up even when
they were stored differently (BraTS releases differ: LPS and RAS both occur).
Axial slices are then `volume[:, :, k]`, `k` from inferior to superior.

Segmentation labels are stored as 1 necrosis, 2 edema, 4 enhancing tumour;
BraTS 2023+'s enhancing label 3 is mapped to 4.

This is the project's one NIfTI reader: the builders load whole subjects with it
(`load_subject(files)`, every contrast required) and `magan_keras.inference` loads
the contrasts a user has (`load_subject(paths, required=())`).

Example:
>>> from tfds_brats import subjects
>>> from tfds_brats.brats.make_dummy_data import write_dummy_data
>>> _ = write_dummy_data("brats")
>>> for files in subjects.find_subjects("brats")[:2]:
...     volumes, seg, geometry = subjects.load_subject(files)
...     print(files.subject_id, volumes["flair"].shape, geometry.original_axcodes)
BraTS-GLI-00003-000 (24, 24, 12) ('L', 'P', 'S')
BraTS-GLI-00004-000 (24, 24, 12) ('L', 'P', 'S')
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import pathlib
import re
import zlib
from collections.abc import Mapping
from typing import NamedTuple

import nibabel as nib
import numpy as np
from nibabel import orientations

from tfds_brats.constants import MODALITIES

# (separator, lower-case tag) -> role (a modality or "seg"), per naming.
NAMINGS: dict[str, dict[tuple[str, str], str]] = {
    "brats2018-2021": {
        ("_", "t1"): "t1",
        ("_", "t1ce"): "t1ce",
        ("_", "t2"): "t2",
        ("_", "flair"): "flair",
        ("_", "seg"): "seg",
    },
    "brats2023": {
        ("-", "t1n"): "t1",
        ("-", "t1c"): "t1ce",
        ("-", "t2w"): "t2",
        ("-", "t2f"): "flair",
        ("-", "seg"): "seg",
    },
}
_FILE_PATTERN = re.compile(r"^(?P<prefix>.+)(?P<sep>[_-])(?P<tag>[A-Za-z0-9]+)\.nii(?:\.gz)?$")
_VALID_SEG_LABELS = (0, 1, 2, 3, 4)
# Tolerance when comparing the canonical affines of a subject's files (mm).
AFFINE_TOLERANCE = 1e-3


class SubjectError(ValueError):
    """A subject that cannot be used, naming the subject, the file and why."""

    def __init__(self, subject_id: str, path: os.PathLike | str, reason: str):
        self.subject_id = subject_id
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"subject '{subject_id}', file {self.path}: {reason}")


class NoSubjectsError(FileNotFoundError):
    """The folder holds no file named like a BraTS contrast."""


@dataclasses.dataclass(frozen=True)
class SubjectFiles:
    """The files found for one subject.

    Attributes:
        subject_id: str. the shared file-name prefix.
        folder: pathlib.Path. the folder holding the files.
        matches: dict role -> tuple of paths; roles are MODALITIES and "seg".
            More than one path for a role is an error reported by `paths()`.
        namings: tuple of the naming styles seen ("brats2018-2021", "brats2023").
    """

    subject_id: str
    folder: pathlib.Path
    matches: Mapping[str, tuple[pathlib.Path, ...]]
    namings: tuple[str, ...]

    def paths(self, required=MODALITIES) -> dict[str, pathlib.Path]:
        """One path per role found: the contrasts, plus "seg" when present.

        Args:
            required: contrasts that must be present (default: all of MODALITIES; `()`
                accepts any non-empty subset).

        Raises:
            SubjectError: a required contrast is missing, or a role has several files.

        Example:
        >>> import pathlib
        >>> found = {"t1": (pathlib.Path("d/s1_t1.nii.gz"),)}
        >>> files = SubjectFiles("s1", pathlib.Path("d"), found, ("brats2018-2021",))
        >>> files.paths(required=())
        {'t1': PosixPath('d/s1_t1.nii.gz')}
        """
        for role, found in sorted(self.matches.items()):
            if len(found) > 1:
                names = ", ".join(p.name for p in found)
                raise SubjectError(self.subject_id, found[0], f"several files for '{role}': {names}")
        for modality in required:
            if modality not in self.matches:
                raise SubjectError(
                    self.subject_id,
                    self.folder / f"{self.subject_id}{_expected_suffixes(modality, self.namings)}",
                    f"missing contrast '{modality}' (no such file in {self.folder})",
                )
        return {role: found[0] for role, found in self.matches.items()}


class Geometry(NamedTuple):
    """Where a subject's canonical voxel grid sits, and how it was stored.

    Attributes:
        affine: float64 [4, 4]. voxel -> world (mm) of the canonical arrays.
        shape: tuple of 3 ints. canonical array shape.
        original_affine: float64 [4, 4]. affine of the first contrast as stored.
        original_axcodes: e.g. ("L", "P", "S"): its orientation as stored.
        paths: dict role -> pathlib.Path of every file read, contrasts first in the order
            read (the first is the reference), then "seg".
        reference: the nibabel image of the first contrast (its header, affine and voxel
            order are what outputs written "like the input" copy; see
            `to_original_orientation`).
    """

    affine: np.ndarray
    shape: tuple[int, int, int]
    original_affine: np.ndarray
    original_axcodes: tuple[str, str, str]
    paths: dict | None = None
    reference: object = None


class LoadedSubject(NamedTuple):
    """`load_subject`'s result: unpack as `volumes, seg, geometry`.

    Attributes:
        volumes: dict modality -> float32 [X, Y, Z], canonical (RAS+).
        seg: uint8 [X, Y, Z] (labels 0, 1, 2, 4) or None.
        geometry: `Geometry`.
    """

    volumes: dict[str, np.ndarray]
    seg: np.ndarray | None
    geometry: Geometry


def find_subjects(root: os.PathLike | str) -> list[SubjectFiles]:
    """Walks `root` recursively and groups BraTS-named files into subjects.

    Args:
        root: folder to search (followed into sub-folders and symlinks; each folder is walked
            once, however many links lead to it, so a symlink cycle such as `loop -> ..` is
            harmless).

    Returns:
        list of `SubjectFiles`, sorted by subject id then folder. Incomplete
        subjects are included: `SubjectFiles.paths()` reports what is wrong.

    Raises:
        NoSubjectsError: `root` is not a folder or holds no BraTS-named file.

    Example:
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> _ = write_fake_subject("found/BraTS-GLI-00001-000", "BraTS-GLI-00001-000", naming="brats2023")
    >>> _ = write_fake_subject("found/nested/BraTS2021_00002", "BraTS2021_00002", with_seg=False)
    >>> [(s.subject_id, s.namings, "seg" in s.matches) for s in find_subjects("found")]
    [('BraTS-GLI-00001-000', ('brats2023',), True), ('BraTS2021_00002', ('brats2018-2021',), False)]
    """
    root = pathlib.Path(os.path.expanduser(os.fspath(root)))
    if not root.is_dir():
        raise NoSubjectsError(f"BraTS folder {root} does not exist or is not a folder")
    groups: dict[tuple[pathlib.Path, str], dict[str, list[pathlib.Path]]] = {}
    namings: dict[tuple[pathlib.Path, str], set[str]] = {}
    seen: set[tuple[int, int]] = set()  # (device, inode) of every folder walked: each once
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = _folder_key(dirpath)
        if here is None or here in seen:  # a second way into a folder (a symlink cycle, `loop -> ..`)
            dirnames[:] = []
            continue
        seen.add(here)
        dirnames[:] = [
            d for d in sorted(dirnames) if not d.startswith(".") and _folder_key(os.path.join(dirpath, d)) not in seen
        ]
        for filename in sorted(filenames):
            parsed = parse_filename(filename)
            if parsed is None:
                continue
            prefix, role, naming = parsed
            key = (pathlib.Path(dirpath), prefix)
            groups.setdefault(key, {}).setdefault(role, []).append(pathlib.Path(dirpath) / filename)
            namings.setdefault(key, set()).add(naming)
    if not groups:
        raise NoSubjectsError(
            f"no BraTS subjects found under {root}: expected files named like "
            "<id>_t1.nii.gz, <id>_t1ce, <id>_t2, <id>_flair (2018-2021) or "
            "<id>-t1n.nii.gz, <id>-t1c, <id>-t2w, <id>-t2f (2023+), .nii or .nii.gz"
        )
    found = [
        SubjectFiles(
            subject_id=prefix,
            folder=folder,
            matches={role: tuple(paths) for role, paths in sorted(roles.items())},
            namings=tuple(sorted(namings[(folder, prefix)])),
        )
        for (folder, prefix), roles in groups.items()
    ]
    return sorted(found, key=lambda s: (s.subject_id, str(s.folder)))


def _folder_key(path) -> tuple[int, int] | None:
    """(device, inode) of the folder `path` leads to (symlinks followed), None if unreadable."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def source_fingerprint(found: list[SubjectFiles], root: os.PathLike | str) -> dict:
    """What a prepared dataset records of its source files: their names, sizes and mtimes, hashed.

    Args:
        found: `SubjectFiles` from `find_subjects(root)`.
        root: the folder they were found in (names are taken relative to it).

    Returns:
        `{"files": count, "sha256": hex}`; equal for the same files, unchanged.

    Example:
    >>> import os
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> _ = write_fake_subject("fp/s1", "s1")
    >>> first = source_fingerprint(find_subjects("fp"), "fp")
    >>> first["files"], first == source_fingerprint(find_subjects("fp"), "fp")
    (5, True)
    >>> os.utime("fp/s1/s1_t2.nii.gz", (0, 0))  # touched (or replaced): another fingerprint
    >>> source_fingerprint(find_subjects("fp"), "fp") == first
    False
    """
    root = pathlib.Path(os.path.expanduser(os.fspath(root)))
    lines = []
    for files in found:
        for paths in files.matches.values():
            for path in paths:
                stat = path.stat()
                lines.append(f"{os.path.relpath(path, root)}\t{stat.st_size}\t{stat.st_mtime_ns}")
    digest = hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()
    return {"files": len(lines), "sha256": digest}


def parse_filename(filename: str) -> tuple[str, str, str] | None:
    """`(prefix, role, naming)` for a BraTS-named NIfTI file, else None.

    Args:
        filename: a file name (no folder).

    Example:
    >>> parse_filename("BraTS2021_00000_t1ce.nii.gz")
    ('BraTS2021_00000', 't1ce', 'brats2018-2021')
    >>> parse_filename("BraTS-GLI-00001-000-t2f.nii")
    ('BraTS-GLI-00001-000', 'flair', 'brats2023')
    >>> parse_filename("notes.txt") is None
    True
    """
    if filename.startswith("."):
        return None
    match = _FILE_PATTERN.match(filename)
    if match is None:
        return None
    key = (match["sep"], match["tag"].lower())
    for naming, table in NAMINGS.items():
        if key in table:
            return match["prefix"], table[key], naming
    return None


def load_subject(
    paths: SubjectFiles | Mapping[str, os.PathLike | str],
    subject_id: str | None = None,
    *,
    required=MODALITIES,
) -> LoadedSubject:
    """Loads a subject's contrasts (and seg) in canonical orientation: the one NIfTI reader.

    Used by the builders (every contrast required) and by `magan_keras.inference` (any
    non-empty subset). Checks that every file exists, reads completely, is 3-D, finite and not
    all zero, and that all files share one canonical shape and affine; every error names the
    subject and the file.

    Args:
        paths: `SubjectFiles` from `find_subjects`, or a mapping role -> path: contrast names
            (any names; `MODALITIES` for BraTS) and optionally "seg".
        subject_id: name used in errors; defaults to `SubjectFiles.subject_id`
            or the first file's folder name.
        required: contrasts that must be given (default: all of `MODALITIES`, as the builders
            need); `()` accepts any non-empty set. The required ones are read first, in this
            order, then the others in the order given; the first read is the reference
            (`Geometry.original_affine`, `Geometry.reference`).

    Returns:
        `LoadedSubject(volumes, seg, geometry)`: float32 canonical (RAS+) volumes by
        contrast, uint8 seg (labels 0/1/2/4) or None, and the `Geometry`.

    Raises:
        SubjectError: naming the subject and the offending file.
        ValueError: no contrast given.

    Example:
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> files = write_fake_subject("s1", "s1", axcodes=("L", "P", "S"))
    >>> volumes, seg, geometry = load_subject(files)
    >>> sorted(volumes), geometry.shape, geometry.original_axcodes
    (['flair', 't1', 't1ce', 't2'], (24, 24, 12), ('L', 'P', 'S'))
    >>> volumes, seg, geometry = load_subject({"t2": files["t2"]}, "s1", required=())
    >>> list(volumes), seg is None, geometry.paths["t2"].name
    (['t2'], True, 's1_t2.nii.gz')
    """
    if isinstance(paths, SubjectFiles):
        subject_id = subject_id or paths.subject_id
        paths = paths.paths(required)
    paths = {role: pathlib.Path(os.path.expanduser(os.fspath(path))) for role, path in paths.items()}
    if subject_id is None:
        first = next(iter(paths.values()), None)
        subject_id = (first.parent.name if first is not None else "") or "?"
    for modality in required:
        if modality not in paths:
            raise SubjectError(subject_id, "(none)", f"missing contrast '{modality}'")
    contrasts = list(required) + [role for role in paths if role != "seg" and role not in required]
    if not contrasts:
        raise ValueError(f"load_subject: no contrast files given for subject '{subject_id}'")

    volumes: dict[str, np.ndarray] = {}
    reference = None  # (path, canonical affine, shape, original affine, image)
    for modality in contrasts:
        path = paths[modality]
        image, data, affine, original_affine = _read(subject_id, path, np.float32, modality)
        if not np.all(np.isfinite(data)):
            bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
            raise SubjectError(subject_id, path, f"{bad} NaN or infinite voxels")
        if not np.any(data):
            raise SubjectError(subject_id, path, "all-zero volume")
        if reference is None:
            reference = (path, affine, data.shape, original_affine, image)
        else:
            _check_same_grid(subject_id, reference, path, affine, data.shape)
        volumes[modality] = data

    seg = None
    if "seg" in paths:
        path = paths["seg"]
        _, data, affine, _ = _read(subject_id, path, None, "seg")
        _check_same_grid(subject_id, reference, path, affine, data.shape)
        seg = _seg_labels(subject_id, path, data)

    _, ref_affine, ref_shape, ref_original, ref_image = reference
    geometry = Geometry(
        affine=ref_affine,
        shape=tuple(int(n) for n in ref_shape),
        original_affine=ref_original,
        original_axcodes=tuple(nib.aff2axcodes(ref_original)),
        paths={role: paths[role] for role in contrasts + (["seg"] if "seg" in paths else [])},
        reference=ref_image,
    )
    return LoadedSubject(volumes, seg, geometry)


def to_original_orientation(array: np.ndarray, original_affine: np.ndarray) -> np.ndarray:
    """Undoes the canonical reorientation: back to the file's voxel order.

    Args:
        array: canonical array `[X, Y, Z, ...]` (e.g. a synthesised volume).
        original_affine: `Geometry.original_affine` of the subject.

    Returns:
        the array in the voxel order of the original file (save it with
        `original_affine`).

    Example:
    >>> import numpy as np
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> files = write_fake_subject("lps", "s", axcodes=("L", "P", "S"))
    >>> volumes, _, geometry = load_subject(files)
    >>> back = to_original_orientation(volumes["t1"], geometry.original_affine)
    >>> bool(np.array_equal(back, np.asarray(nib.load(files["t1"]).dataobj)))
    True
    """
    stored = orientations.io_orientation(original_affine)
    # Canonical -> stored is the inverse of stored -> canonical.
    back = orientations.ornt_transform(orientations.axcodes2ornt(("R", "A", "S")), stored)
    return orientations.apply_orientation(np.asarray(array), back)


def _load_canonical(subject_id, path, dtype):
    """(data, canonical affine, original affine) of one file; SubjectError if unreadable."""
    _, data, affine, original_affine = _read(subject_id, path, dtype)
    return data, affine, original_affine


def _read(subject_id, path, dtype, role=None):
    """(image, canonical data, canonical affine, original affine) of one file."""
    if not pathlib.Path(path).is_file():
        given = f" (given for '{role}')" if role else ""
        raise SubjectError(subject_id, path, f"no such file{given}")
    try:
        image = _load_image(path)
        if dtype is None:
            data = np.asanyarray(image.dataobj)
        else:
            data = np.asarray(image.get_fdata(dtype=dtype, caching="unchanged"))
    except CorruptFileError as error:
        raise SubjectError(subject_id, path, str(error)) from error
    except Exception as error:  # nibabel raises many types for bad files
        raise SubjectError(subject_id, path, f"cannot read the file ({type(error).__name__}: {error})") from error
    if data.ndim > 3 and all(n == 1 for n in data.shape[3:]):
        data = data.reshape(data.shape[:3])
    if data.ndim != 3:
        raise SubjectError(subject_id, path, f"expected a 3-D volume, got shape {data.shape}")
    original_affine = np.asarray(image.affine, np.float64)
    ornt = orientations.io_orientation(original_affine)
    data = orientations.apply_orientation(data, ornt)
    affine = original_affine @ orientations.inv_ornt_aff(ornt, image.shape[:3])
    return image, data, affine, original_affine


def _load_image(path):
    """The nibabel image of `path`; a `.gz` file is decompressed whole first.

    nibabel reads only the bytes the voxels need, so gzip's CRC and length check (done at the end
    of the stream) never runs and a corrupted byte gives wrong voxels silently; reading the
    whole stream with `gzip.decompress` checks it (`CorruptFileError` names what failed).
    """
    path = pathlib.Path(path)
    if not path.name.lower().endswith(".gz"):
        return nib.load(os.fspath(path))
    try:
        raw = gzip.decompress(path.read_bytes())
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise CorruptFileError(
            f"cannot read the file: corrupt gzip stream, the file is damaged or truncated ({error})"
        ) from error
    for image_class in (nib.Nifti1Image, nib.Nifti2Image):
        try:
            image = image_class.from_bytes(raw)
        except Exception:  # noqa: BLE001  (not this header kind: try the next)
            continue
        image.file_map["image"].filename = os.fspath(path)  # `get_filename()` names the file, as nib.load's
        return image
    return nib.load(os.fspath(path))  # neither NIfTI-1 nor NIfTI-2: nibabel's own error


class CorruptFileError(ValueError):
    """A compressed file whose integrity check (gzip CRC and length) fails."""


def _check_same_grid(subject_id, reference, path, affine, shape):
    ref_path, ref_affine, ref_shape = reference[:3]
    if tuple(shape) != tuple(ref_shape):
        raise SubjectError(
            subject_id,
            path,
            f"shape mismatch: {tuple(shape)} (canonical) vs {tuple(ref_shape)} in {ref_path.name}",
        )
    if not np.allclose(affine, ref_affine, atol=AFFINE_TOLERANCE):
        raise SubjectError(
            subject_id,
            path,
            f"affine mismatch with {ref_path.name} (the files are not on one voxel grid):\n{affine}\nvs\n{ref_affine}",
        )


def _seg_labels(subject_id, path, data) -> np.ndarray:
    if not np.all(np.isfinite(data)) or not np.array_equal(data, np.round(data)):
        raise SubjectError(subject_id, path, "segmentation has non-integer labels")
    labels = np.unique(data)
    bad = [int(v) for v in labels if int(v) not in _VALID_SEG_LABELS]
    if bad:
        raise SubjectError(subject_id, path, f"unexpected segmentation labels {bad} (expected 0, 1, 2, 3 or 4)")
    seg = data.astype(np.uint8)
    seg[seg == 3] = 4  # BraTS 2023+ enhancing tumour -> the 2018-2021 label
    return seg


def _expected_suffixes(modality: str, namings=()) -> str:
    """E.g. "_flair.nii[.gz]" for the subject's naming, or both namings' suffixes."""
    names = [
        f"{sep}{tag}"
        for naming, table in NAMINGS.items()
        for (sep, tag), role in table.items()
        if role == modality and (len(namings) != 1 or naming in namings)
    ]
    joined = names[0] if len(names) == 1 else "{" + ",".join(names) + "}"
    return f"{joined}.nii[.gz]"
