"""Brain masks and prepared slices of real subjects, as PNG figures and a table.

For each subject of `--data-dir` (found as `tfds_brats.prepare` finds them; nothing is
copied): the four contrasts normalised as the builders do
(`tfds_brats.examples.normalise_subject`) with the brain mask
(`tfds_brats.intensity.brain_mask`) drawn over them, through the brain's centre in the axial,
coronal and sagittal planes (`<subject>_views.png`); the voxels the old rule (non-zero in any
contrast) and the current rule disagree on (`<subject>_disagreement.png`); the same after a
half-voxel cubic resampling, as a user's own registration leaves it
(`<subject>_resampled_views.png`, and `_resampled_old_rule.png` with the old rule's mask); and
the axial slices `prepare` stores for them (`prepared_slices.png`, the subjects prepared with
`--split-fractions 1,0,0` into `<out>/tfds`). `masks.csv` lists each subject's brain fraction
under both rules, its values below zero, its faces' and its background's (lowest contrast)
share of exact zeros and (resampled) the
Dice of the mask to the resampled original mask.

    python -m studies.real_masks --data-dir ../shared/data --out runs/real_masks

Example:
>>> import numpy as np
>>> from studies.real_masks import mask_rows
>>> volume = np.zeros((8, 8, 8)); volume[2:6, 2:6, 2:6] = 100.0; volume[0, 0, 0] = -1.0
>>> row = mask_rows("s", {"t1": volume})
>>> row["brain_fraction_nonzero"], row["brain_fraction"], row["negative_voxels"]  # 65 of 512 voxels
(0.127, 0.127, 1)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import pathlib
import sys

import numpy as np
from scipy import ndimage

from magan_keras import atomic
from tfds_brats import examples, intensity, subjects
from tfds_brats.constants import MODALITIES

COLUMNS = (
    "subject",
    "variant",
    "brain_fraction_nonzero",
    "brain_fraction",
    "disagreeing_voxels",
    "negative_voxels",
    "face_zero_fraction",
    "background_zero_fraction",
    "dice_to_reference",
)
# The variant a user's own resampling gives: every contrast shifted by half a voxel along each axis
# with cubic splines (scipy.ndimage.shift, order 3): the background is no longer exactly zero.
RESAMPLE_SHIFT = (0.5, 0.5, 0.5)


def mask_rows(subject_id: str, volumes: dict, variant: str = "as given", reference=None) -> dict:
    """One subject's row of `masks.csv`: brain fractions under the old (non-zero) and the current rule.

    Args:
        subject_id: str.
        volumes: contrast -> array.
        variant: what was done to the files ("as given", or the resampling).
        reference: bool array the mask should match (Dice reported), or None.

    Example: see the module docstring.
    """
    arrays = list(volumes.values())
    nonzero = np.logical_or.reduce([np.asarray(v) != 0 for v in arrays])
    mask = intensity.brain_mask(arrays)
    faces = np.concatenate([intensity._faces(np.asarray(v)) for v in arrays])  # pylint: disable=protected-access
    dice = ""
    if reference is not None:
        dice = round(float(2 * (mask & reference).sum() / (mask.sum() + reference.sum())), 4)
    return {
        "subject": subject_id,
        "variant": variant,
        "dice_to_reference": dice,
        "brain_fraction_nonzero": round(float(nonzero.mean()), 4),
        "brain_fraction": round(float(mask.mean()), 4),
        "disagreeing_voxels": int((nonzero != mask).sum()),
        "negative_voxels": int(sum(int((np.asarray(v) < 0).sum()) for v in arrays)),
        "face_zero_fraction": round(float(np.mean(faces == 0)), 4),
        "background_zero_fraction": round(min(_background_zero_fraction(v) for v in arrays), 4),
    }


def _background_zero_fraction(volume) -> float:
    """Share of exact zeros among the voxels below `intensity.BACKGROUND_LEVEL` of the robust scale."""
    values = np.asarray(volume)
    magnitude = np.abs(values.astype(np.float64))
    below = magnitude <= intensity.BACKGROUND_LEVEL * float(np.percentile(magnitude, 99))
    return float(np.mean(values[below] == 0))


def views_figure(subject_id: str, images: np.ndarray, mask: np.ndarray, path) -> None:
    """Contrasts (rows) x axial / coronal / sagittal (columns), the mask outlined in red.

    Args:
        subject_id: the title.
        images: float [X, Y, Z, 4] in [-1, 1].
        mask: bool [X, Y, Z].
        path: the PNG to write.
    """
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    centre = [int(round(c)) for c in np.argwhere(mask).mean(axis=0)]
    cuts = {
        "axial": lambda a: a[:, :, centre[2]].T,
        "coronal": lambda a: a[:, centre[1], :].T,
        "sagittal": lambda a: a[centre[0], :, :].T,
    }
    figure, axes = plt.subplots(len(MODALITIES), 3, figsize=(6.0, 8.0))
    for row, modality in enumerate(MODALITIES):
        for column, (plane, cut) in enumerate(cuts.items()):
            axis = axes[row, column]
            axis.imshow(cut(images[..., row]), cmap="gray", vmin=-1, vmax=1, origin="lower")
            axis.contour(cut(mask.astype(float)), levels=[0.5], colors="red", linewidths=0.5)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(plane, fontsize=8)
            if column == 0:
                axis.set_ylabel(modality, fontsize=8)
    figure.suptitle(f"{subject_id}: brain {mask.mean():.1%} of the volume", fontsize=9)
    figure.tight_layout()
    atomic.save_figure(figure, path, dpi=80)
    plt.close(figure)


def disagreement_figure(subject_id: str, volumes: dict, mask: np.ndarray, path) -> None:
    """Where the old rule (non-zero anywhere) and the current mask differ, as a maximum projection per plane."""
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    nonzero = np.logical_or.reduce([np.asarray(v) != 0 for v in volumes.values()])
    negative = np.logical_or.reduce([np.asarray(v) < 0 for v in volumes.values()])
    figure, axes = plt.subplots(2, 3, figsize=(7.5, 5.0))
    for column, axis_index in enumerate((2, 1, 0)):
        for row, (name, field) in enumerate((("old != new", nonzero != mask), ("values < 0", negative))):
            axis = axes[row, column]
            axis.imshow(field.max(axis=axis_index).T, cmap="magma", origin="lower", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_title(f"{name}, {('axial', 'coronal', 'sagittal')[column]} max", fontsize=7)
    figure.suptitle(
        f"{subject_id}: {int((nonzero != mask).sum())} voxels differ, {int(negative.sum())} < 0", fontsize=9
    )
    figure.tight_layout()
    atomic.save_figure(figure, path, dpi=80)
    plt.close(figure)


def prepared_figure(builder, path, per_subject: int = 4) -> None:
    """A few stored axial slices per subject (4 contrasts + the stored brain mask) of a prepared dataset."""
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    by_subject: dict[str, list] = {}
    for example in builder.as_dataset(split="train").as_numpy_iterator():
        by_subject.setdefault(example["subject_id"].decode(), []).append(example)
    rows = []
    for subject_id in sorted(by_subject):
        slices = sorted(by_subject[subject_id], key=lambda e: int(e["slice_index"]))
        picks = np.linspace(0, len(slices) - 1, per_subject).round().astype(int)
        rows += [(subject_id, slices[i]) for i in picks]
    figure, axes = plt.subplots(len(rows), 5, figsize=(7.0, 1.45 * len(rows)))
    for r, (subject_id, example) in enumerate(rows):
        panels = [example["images"][..., c] for c in range(4)] + [example["brain_mask"].astype(float) * 2 - 1]
        for c, panel in enumerate(panels):
            axis = axes[r, c]
            axis.imshow(np.squeeze(panel).T, cmap="gray", vmin=-1, vmax=1, origin="lower")
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title((*MODALITIES, "mask")[c], fontsize=8)
            if c == 0:
                axis.set_ylabel(f"{subject_id[:14]}\nz={int(example['slice_index'])}", fontsize=6)
    figure.tight_layout()
    atomic.save_figure(figure, path, dpi=70)
    plt.close(figure)


def main(argv=None) -> int:
    """Command line; returns the exit status.

    Args:
        argv: list of str, or None for `sys.argv[1:]`.
    """
    parser = argparse.ArgumentParser(prog="python -m studies.real_masks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="folder of real BraTS-named subjects (any depth)")
    parser.add_argument("--out", required=True, help="folder for the PNGs, masks.csv and the prepared dataset")
    parser.add_argument("--image-size", type=int, default=128, help="side of the prepared slices (128)")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for files in subjects.find_subjects(args.data_dir):
        volumes, _, _ = subjects.load_subject(files)
        raw = {m: np.asanyarray(volumes[m]) for m in MODALITIES}
        mask = intensity.brain_mask(raw.values())
        images, _, _ = examples.normalise_subject(raw, mask)
        views_figure(files.subject_id, images, mask, out / f"{files.subject_id}_views.png")
        disagreement_figure(files.subject_id, raw, mask, out / f"{files.subject_id}_disagreement.png")
        rows.append(mask_rows(files.subject_id, raw))
        print(rows[-1])
        shifted = {m: ndimage.shift(np.asarray(v, np.float64), RESAMPLE_SHIFT, order=3) for m, v in raw.items()}
        reference = ndimage.shift(mask.astype(np.float64), RESAMPLE_SHIFT, order=1) > 0.5
        rows.append(mask_rows(files.subject_id, shifted, "resampled (half-voxel cubic shift)", reference))
        print(rows[-1])
        shifted_mask = intensity.brain_mask(shifted.values())
        old_mask = np.logical_or.reduce([v != 0 for v in shifted.values()])
        shifted_images, _, _ = examples.normalise_subject(shifted, shifted_mask)
        views_figure(
            f"{files.subject_id} resampled",
            shifted_images,
            shifted_mask,
            out / f"{files.subject_id}_resampled_views.png",
        )
        old_images, _, _ = examples.normalise_subject(shifted, old_mask)
        views_figure(
            f"{files.subject_id} resampled, old rule",
            old_images,
            old_mask,
            out / f"{files.subject_id}_resampled_old_rule.png",
        )
    atomic.write_csv(out / "masks.csv", COLUMNS, rows)
    from tfds_brats.prepare import prepare, summary  # pylint: disable=import-outside-toplevel

    with contextlib.redirect_stdout(io.StringIO()):
        builder = prepare(
            args.data_dir,
            image_size=args.image_size,
            data_dir=out / "tfds",
            split_fractions=(1.0, 0.0, 0.0),
            overwrite=True,
        )
    print(summary(builder))
    prepared_figure(builder, out / "prepared_slices.png")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
