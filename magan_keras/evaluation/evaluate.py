"""Score a trained MA-GAN the way the field does: `python -m magan_keras.evaluate`.

For every subject and target contrast (the paper's setting: the target missing, every other
contrast given), the model and two baselines (`magan_keras.evaluation.baselines`: the best single
available contrast after intensity matching, and a voxel-wise linear regression, both fitted on
a training split) are scored with both protocols of DESIGN.md (`magan_keras.evaluation.protocols`):
BraSyn's per-volume SSIM (whole brain, tumour, non-tumour brain) and PSNR, and per-slice PSNR,
SSIM and MAE inside the brain. The table gives the mean and the standard deviation (numpy,
ddof=0) over subjects.

Two sources of subjects:
- a prepared split (`--dataset`, `--split`): the stored slices of each subject (grouped by
  `subject_id`, ordered by `slice_index`) form its volume, at the stored size (which must be
  the model's), slices with less brain than the builder's threshold left out. BraSyn's truth is
  the stored slice on the unit scale.
- a BraTS folder (`--data-dir`): each subject is read and normalised as the builder does and
  synthesised whole at its own resolution exactly as `magan_keras.synthesize` does (pad / crop
  to the canvas, resize to the model size and back); BraSyn's truth is the scanner volume
  itself, the per-slice protocol uses the slices the builder would keep (>= 5 % brain).

Outputs in `--out-dir`: `per_subject.csv`, `summary.csv`, `results.md` (the table with notes),
`evaluation.png` (per-target distributions and example slices).

Command line:

    python -m magan_keras.evaluate --model model.keras --dataset brats/slices_128 \\
        --split test --out-dir report/
    python -m magan_keras.evaluate --model model.keras --data-dir /data/BraTS_test \\
        --baseline-data-dir /data/BraTS_train --out-dir report/

Example:

```python
from magan_keras.evaluation.baselines import Baselines
from magan_keras.evaluation.evaluate import evaluate_model

baselines = Baselines.fit(train_split, max_examples=5000)
results = evaluate_model(model, test_split, baselines=baselines)
print(results.to_markdown())
results.write("report/")
```
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import os
import pathlib
import sys
import time
from collections.abc import Iterable, Iterator

import numpy as np

from magan_keras.inference import generator as inference
from magan_keras.evaluation import protocols

from magan_keras.evaluation.baselines import DESCRIPTIONS as BASELINE_DESCRIPTIONS
from magan_keras.evaluation.baselines import METHODS as BASELINE_METHODS
from magan_keras.evaluation.baselines import Baselines
from magan_keras.modalities import BRATS_MODALITIES

MODEL_METHOD = "magan"
METRICS = protocols.BRASYN_METRICS + protocols.SLICE_METRICS
METRIC_TITLES = {
    "brasyn_ssim": "BraSyn SSIM",
    "brasyn_ssim_tumour": "SSIM tumour",
    "brasyn_ssim_non_tumour": "SSIM non-tumour",
    "brasyn_psnr": "BraSyn PSNR",
    "slice_psnr": "slice PSNR",
    "slice_ssim": "slice SSIM",
    "slice_mae": "slice MAE",
}
OUTPUT_FILES = ("per_subject.csv", "summary.csv", "results.md", "evaluation.png")
DEFAULT_BASELINE_SLICES = 5000


@dataclasses.dataclass
class SubjectData:
    """One subject to score.

    Attributes:
        subject_id: str.
        images: float32 `[X, Y, Z, M]` normalised (model scale, background -1).
        brain_mask: bool `[X, Y, Z]`.
        seg: uint8 `[X, Y, Z]` or None.
        scanner: dict contrast -> `[X, Y, Z]` scanner-unit volumes (BraSyn's truth), or None
            to use the normalised images on the unit scale.
        slice_indices: int `[K]` slices of the per-slice protocol.
        model_size: bool. The slices already have the model's size (a prepared split).
    """

    subject_id: str
    images: np.ndarray
    brain_mask: np.ndarray
    seg: np.ndarray | None
    scanner: dict | None
    slice_indices: np.ndarray
    model_size: bool


@dataclasses.dataclass
class EvaluationResults:
    """Scores of `evaluate_model`.

    Attributes:
        rows: list of dicts, one per (subject, target, method): `subject_id`, `target`,
            `method`, `slices` and every metric of `METRICS` (NaN when not defined).
        targets: tuple of target contrasts.
        methods: tuple of methods (`magan` then the baselines).
        examples: dict target -> {"truth", method...: 2-D unit-scale slices, "subject_id",
            "slice_index"} from the first subject, for figures.
        notes: list of str describing the data, the baselines and the protocols.
        seconds_per_volume: float. Mean model time per synthesised volume.
    """

    rows: list
    targets: tuple
    methods: tuple
    examples: dict
    notes: list
    seconds_per_volume: float = math.nan

    def summary(self) -> list:
        """One dict per (target, method): `n` subjects and `<metric>_mean` / `<metric>_std`."""
        table = []
        for target in self.targets:
            for method in self.methods:
                rows = [r for r in self.rows if r["target"] == target and r["method"] == method]
                entry = {"target": target, "method": method, "n": len(rows)}
                for metric in METRICS:
                    values = np.asarray([r[metric] for r in rows], np.float64)
                    values = values[np.isfinite(values)]
                    entry[f"{metric}_mean"] = float(values.mean()) if values.size else math.nan
                    entry[f"{metric}_std"] = float(values.std()) if values.size else math.nan
                table.append(entry)
        return table

    def metric_mean(self, target, method, metric) -> float:
        """Mean over subjects of one metric (NaN if undefined)."""
        for entry in self.summary():
            if entry["target"] == target and entry["method"] == method:
                return entry[f"{metric}_mean"]
        raise KeyError(f"no results for target {target!r}, method {method!r}")

    def to_markdown(self) -> str:
        """The summary as a markdown table (mean ± std over subjects) followed by notes."""
        header = ["target", "method", "n"] + [METRIC_TITLES[m] for m in METRICS]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for entry in self.summary():
            cells = [entry["target"], entry["method"], str(entry["n"])]
            for metric in METRICS:
                mean, std = entry[f"{metric}_mean"], entry[f"{metric}_std"]
                digits = 2 if "psnr" in metric else 4
                cells.append("–" if not np.isfinite(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines.extend(f"- {note}" for note in self.notes)
        return "\n".join(lines) + "\n"

    def write(self, out_dir, *, overwrite=False, figure=True) -> list:
        """Writes `per_subject.csv`, `summary.csv`, `results.md` and `evaluation.png`.

        Raises:
            FileExistsError: one of them exists and `overwrite` is False (nothing is written).

        Returns:
            the paths written.
        """
        out_dir = pathlib.Path(out_dir)
        names = OUTPUT_FILES if figure else OUTPUT_FILES[:3]
        existing = [out_dir / n for n in names if (out_dir / n).exists()]
        if existing and not overwrite:
            raise FileExistsError(f"{existing[0]} exists; pass --overwrite (overwrite=True) to replace it")
        out_dir.mkdir(parents=True, exist_ok=True)
        columns = ["subject_id", "target", "method", "slices", *METRICS]
        paths = [
            _write_csv(out_dir / "per_subject.csv", columns, self.rows),
            _write_csv(out_dir / "summary.csv", list(self.summary()[0]) if self.rows else ["target"],
                       self.summary()),
        ]
        markdown = out_dir / "results.md"
        markdown.write_text("# MA-GAN evaluation\n\n" + self.to_markdown(), encoding="utf-8")
        paths.append(markdown)
        if figure:
            from magan_keras.evaluation import figures  # pylint: disable=import-outside-toplevel

            paths.append(figures.evaluation_figure(self, out_dir / "evaluation.png"))
        return paths


def _write_csv(path, columns, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return pathlib.Path(path)


# === Sources of subjects ===
def subjects_from_split(examples, modalities=BRATS_MODALITIES, max_subjects=None) -> list:
    """Groups a prepared split's slices into `SubjectData` (slices ordered by `slice_index`).

    Holds the split's images in memory (M x 4 bytes per pixel: about 256 KB per 128-px slice).

    Args:
        examples: `tf.data.Dataset` of unbatched slice features (`images`, `brain_mask`, `seg`,
            `has_seg`, `subject_id`, `slice_index`).
        modalities: contrast names in channel order.
        max_subjects: int or None. Keep the first subjects by sorted id.

    Example:

    ```python
    subjects = subjects_from_split(builder.as_dataset(split="test"))
    ```
    """
    needed = ("images", "brain_mask", "subject_id", "slice_index")
    spec = examples.element_spec
    missing = [k for k in needed if k not in spec]
    if missing:
        raise ValueError(f"the split lacks the features {missing} (a tfds_brats slices split has them)")
    groups: dict[str, dict[str, list]] = {}
    keys = [k for k in ("images", "brain_mask", "seg", "has_seg", "slice_index") if k in spec]
    for example in examples.map(lambda f: {k: f[k] for k in keys + ["subject_id"]}).as_numpy_iterator():
        subject_id = example["subject_id"].decode() if isinstance(example["subject_id"], bytes) else str(
            example["subject_id"])
        group = groups.setdefault(subject_id, {k: [] for k in keys})
        for key in keys:
            group[key].append(example[key])
    result = []
    for subject_id in sorted(groups)[:max_subjects]:
        group = groups[subject_id]
        order = np.argsort(np.asarray(group["slice_index"]))
        images = np.stack([group["images"][i] for i in order], axis=2).astype(np.float32)
        if images.shape[-1] != len(modalities):
            raise ValueError(f"split images have {images.shape[-1]} contrasts, expected {len(modalities)}")
        mask = np.stack([group["brain_mask"][i] for i in order], axis=2).astype(bool)
        has_seg = "seg" in group and bool(np.any(group.get("has_seg", [True])))
        seg = np.stack([group["seg"][i] for i in order], axis=2).astype(np.uint8) if has_seg else None
        result.append(SubjectData(subject_id, images, mask, seg, None,
                                  np.flatnonzero(mask.any(axis=(0, 1))), True))
    if not result:
        raise ValueError("the split holds no example")
    return result


def subjects_from_folder(data_dir, max_subjects=None, min_brain_fraction=0.05) -> Iterator:
    """Yields each complete BraTS subject of a folder as `SubjectData` (read lazily).

    Normalised as the builders do (`tfds_brats.examples.normalise_subject`, brain mask from all
    four contrasts); the per-slice protocol uses the slices with at least `min_brain_fraction`
    brain, the builder's rule.

    Raises:
        tfds_brats.subjects.SubjectError: an incomplete or bad subject (named).
        tfds_brats.subjects.NoSubjectsError: no BraTS-named file under `data_dir`.

    Example:

    ```python
    for subject in subjects_from_folder("/data/BraTS2021_test"):
        print(subject.subject_id, subject.images.shape)
    ```
    """
    from tfds_brats import examples, intensity, subjects  # pylint: disable=import-outside-toplevel

    for count, files in enumerate(subjects.find_subjects(data_dir)):
        if max_subjects is not None and count >= max_subjects:
            return
        volumes, seg, _ = subjects.load_subject(files)
        mask = intensity.brain_mask(volumes.values())
        try:
            images, _, _ = examples.normalise_subject(volumes, mask)
        except intensity.ConstantImageError as error:
            raise subjects.SubjectError(files.subject_id, files.folder, str(error)) from error
        yield SubjectData(files.subject_id, images, mask, seg, dict(volumes),
                          examples.usable_slice_indices(mask, min_brain_fraction), False)


def load_split(dataset, split, data_dir=None):
    """A prepared split as a `tf.data.Dataset`.

    Args:
        dataset: a registered name with config (`"brats/slices_128"`,
            `"brats_phantom/slices_64"`) or the folder of a prepared dataset version
            (`~/tensorflow_datasets/brats_phantom/slices_32_num_subjects8/1.0.0`).
        split: str, e.g. "test".
        data_dir: TFDS data folder for a name (default: TFDS's).

    Raises:
        ValueError: unknown dataset or split, or not prepared (with the command to prepare it).
    """
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

    import tfds_brats.brats  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import  (registers)
    import tfds_brats.brats_phantom  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import

    path = pathlib.Path(os.path.expanduser(os.fspath(dataset)))
    try:
        if path.is_dir():
            builder = tfds.builder_from_directory(os.fspath(path))
        else:
            builder = tfds.builder(os.fspath(dataset), data_dir=data_dir)
    except Exception as error:  # TFDS raises several types for unknown names
        raise ValueError(
            f"--dataset {dataset}: cannot open it ({type(error).__name__}: {error}); give a "
            "prepared dataset's folder, or prepare it with `python -m tfds_brats.prepare`"
        ) from error
    if not builder.info.splits:
        raise ValueError(
            f"--dataset {dataset} is not prepared under {builder.data_dir}; prepare it with "
            "`python -m tfds_brats.prepare` first"
        )
    if split not in builder.info.splits:
        raise ValueError(f"--dataset {dataset} has no split {split!r}; it has {sorted(builder.info.splits)}")
    return builder.as_dataset(split=split, shuffle_files=False)


# === Evaluation ===
def evaluate_model(model, examples, *, targets=None, baselines=None, batch_size=8, canvas_size=None,
                   max_subjects=None, progress=False, notes=()) -> EvaluationResults:
    """Scores a model (and the baselines) per subject and target with both protocols.

    Args:
        model: a `MAGAN`, its generator, or a `.keras` path (`inference.load_generator`).
        examples: a prepared split (`tf.data.Dataset` of slice features), a BraTS folder path,
            or an iterable of `SubjectData`.
        targets: contrasts to score as targets (default: all of the model's).
        baselines: a fitted `Baselines` (scored alongside), or None.
        batch_size: int. Slices per model call.
        canvas_size: int or None. Canvas for whole volumes (see `volumes.resolve_canvas_size`).
        max_subjects: int or None. Score at most this many subjects.
        progress: bool. Show a progress bar over subjects on stderr.
        notes: extra lines for the report.

    Returns:
        `EvaluationResults`.

    Example:

    ```python
    results = evaluate_model(model, test_split, baselines=Baselines.fit(train_split))
    results.metric_mean("flair", "magan", "brasyn_ssim")
    ```
    """
    generator = inference.load_generator(model)
    modalities = tuple(generator.modalities)
    targets = tuple(targets or modalities)
    for target in targets:
        if target not in modalities:
            raise ValueError(f"target {target!r} is not one of the model's contrasts {modalities}")
    source_note = "subjects given as SubjectData"
    try:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        is_dataset = isinstance(examples, tf.data.Dataset)
    except ImportError:  # pragma: no cover
        is_dataset = False
    if is_dataset:
        subject_source: Iterable = subjects_from_split(examples, modalities, max_subjects)
        source_note = ("prepared split: each subject's stored slices stacked as its volume, at the "
                       "stored size; BraSyn truth = stored slices on the unit scale")
    elif isinstance(examples, (str, os.PathLike)):
        if modalities != BRATS_MODALITIES:
            raise ValueError(f"a BraTS folder has the contrasts {BRATS_MODALITIES}; the model was "
                             f"trained on {modalities}")
        subject_source = subjects_from_folder(examples, max_subjects)
        source_note = (f"BraTS folder {examples}: whole volumes synthesised at their own "
                       "resolution as `magan_keras.synthesize` does; BraSyn truth = scanner volume")
    else:
        subject_source = list(examples)[:max_subjects]
    methods = (MODEL_METHOD,) + (BASELINE_METHODS if baselines is not None else ())
    rows, examples_out, model_seconds, volumes_done = [], {}, 0.0, 0
    bar = None
    if progress:
        from tqdm.auto import tqdm  # pylint: disable=import-outside-toplevel

        bar = tqdm(desc="evaluating", unit="subject", file=sys.stderr)
    try:
        for subject in subject_source:
            for target in targets:
                t = modalities.index(target)
                available = np.ones(len(modalities), np.float32)
                available[t] = 0.0
                start = time.perf_counter()
                predictions = {MODEL_METHOD: _model_prediction(
                    generator, subject, available, t, batch_size=batch_size, canvas_size=canvas_size)}
                model_seconds += time.perf_counter() - start
                volumes_done += 1
                for method in methods[1:]:
                    predictions[method] = baselines.predict(
                        method, subject.images, available, t, subject.brain_mask)
                truth = subject.images[..., t]
                truth_brasyn = (subject.scanner[target] if subject.scanner is not None
                                else inference.to_unit_scale(truth, subject.brain_mask))
                for method, prediction in predictions.items():
                    row = {"subject_id": subject.subject_id, "target": target, "method": method,
                           "slices": int(len(subject.slice_indices))}
                    row.update(protocols.brasyn_metrics(
                        inference.to_unit_scale(prediction, subject.brain_mask), truth_brasyn,
                        subject.brain_mask, subject.seg))
                    scores = protocols.slice_metrics(prediction, truth, subject.brain_mask,
                                                     subject.slice_indices)
                    row.update({k: scores[k] for k in protocols.SLICE_METRICS})
                    rows.append(row)
                if target not in examples_out and len(subject.slice_indices):
                    index = int(subject.slice_indices[len(subject.slice_indices) // 2])
                    examples_out[target] = {
                        "subject_id": subject.subject_id, "slice_index": index,
                        "truth": inference.to_unit_scale(truth[:, :, index], subject.brain_mask[:, :, index]),
                        **{m: inference.to_unit_scale(p[:, :, index], subject.brain_mask[:, :, index])
                           for m, p in predictions.items()},
                    }
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if not rows:
        raise ValueError("no subject to evaluate")
    all_notes = [source_note, f"targets scored with every other contrast given ({', '.join(modalities)})"]
    all_notes.append("magan: the model; " + "; ".join(
        f"{m}: {BASELINE_DESCRIPTIONS[m]}, fitted on {baselines.description}" for m in methods[1:])
        if baselines is not None else "magan: the model (no baselines)")
    all_notes.append("BraSyn: each volume clipped to its own 0.5/99.5 percentiles (lower >= 0) and "
                     "scaled to [0, 1]; 3-D SSIM (Gaussian 11, sigma 1.5) averaged over the brain, the "
                     "tumour (seg > 0) and the non-tumour brain; PSNR over the brain")
    all_notes.append("per slice: [-1, 1] -> [0, 1], PSNR / MAE over brain pixels, SSIM map (as "
                     "tf.image.ssim, mirror-extended) averaged over brain pixels, mean over slices "
                     "(PSNR capped at 100 dB)")
    all_notes.append("mean ± standard deviation over subjects (ddof=0)")
    all_notes.extend(notes)
    seconds = model_seconds / volumes_done if volumes_done else math.nan
    all_notes.append(f"model time: {seconds:.2f} s per synthesised volume")
    return EvaluationResults(rows, targets, methods, examples_out, all_notes, seconds)


def _model_prediction(generator, subject, available, target, *, batch_size, canvas_size):
    """The model's synthesis of one subject's target on the model scale, -1 outside the brain."""
    if not subject.model_size:
        return inference.synthesize_volume(generator, subject.images * available, available, target,
                                           subject.brain_mask, canvas_size=canvas_size,
                                           batch_size=batch_size)
    size = int(generator.image_size)
    if subject.images.shape[:2] != (size, size):
        raise ValueError(f"subject {subject.subject_id}: slices are {subject.images.shape[:2]} but the "
                         f"model takes {size} x {size}")
    stack = np.moveaxis(subject.images, 2, 0)  # [K, S, S, M]
    synthesis = inference.predict_slices(generator, stack, available, target, batch_size=batch_size)
    volume = np.clip(np.moveaxis(synthesis, 0, 2), -1.0, 1.0)
    volume[~subject.brain_mask] = -1.0
    return volume


# === Command line ===
def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of `python -m magan_keras.evaluate`."""
    parser = argparse.ArgumentParser(
        prog="python -m magan_keras.evaluate",
        description="Score a trained MA-GAN and two baselines with the BraSyn and per-slice protocols.",
    )
    parser.add_argument("--model", required=True, help="trained model: a .keras MAGAN or generator")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", help="a BraTS folder (subjects with all four contrasts)")
    source.add_argument("--dataset", help="prepared dataset: name/config (brats/slices_128) or its folder")
    parser.add_argument("--split", default="test", help="split of --dataset to score (test)")
    parser.add_argument("--tfds-data-dir", help="TFDS data folder of --dataset (default: TFDS's)")
    parser.add_argument("--out-dir", required=True, help="folder for the CSV, markdown and PNG")
    parser.add_argument("--target", action="append", default=[],
                        help="target contrast(s) to score (repeat or comma-separate; default: all)")
    parser.add_argument("--batch-size", type=int, default=8, help="slices per model call (8)")
    parser.add_argument("--canvas-size", type=int, default=None,
                        help="canvas of whole volumes (see magan_keras.synthesize; default auto)")
    parser.add_argument("--max-subjects", type=int, default=None, help="score at most this many subjects")
    baselines = parser.add_argument_group("baselines (fitted on training data)")
    baselines.add_argument("--baseline-split", default="train",
                           help="split of --dataset the baselines are fitted on (train)")
    baselines.add_argument("--baseline-data-dir",
                           help="BraTS folder of training subjects for the baselines (with --data-dir; "
                                "default: the evaluated subjects, flagged as optimistic)")
    baselines.add_argument("--baseline-max-slices", type=int, default=DEFAULT_BASELINE_SLICES,
                           help=f"slices of --baseline-split used for the fit ({DEFAULT_BASELINE_SLICES})")
    baselines.add_argument("--no-baselines", action="store_true", help="score the model only")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def fit_baselines_for(args, modalities):
    """The `Baselines` the command line asks for (None with --no-baselines)."""
    if args.no_baselines:
        return None
    if args.dataset:
        train = load_split(args.dataset, args.baseline_split, args.tfds_data_dir)
        return Baselines.fit(train, modalities, max_examples=args.baseline_max_slices,
                             description=f"{args.dataset} split '{args.baseline_split}' "
                                         f"(at most {args.baseline_max_slices} slices)")
    folder = args.baseline_data_dir or args.data_dir
    description = (f"the BraTS folder {folder}" if args.baseline_data_dir else
                   f"the evaluated subjects themselves ({folder}; optimistic: no training folder given)")
    pairs = ((s.images, s.brain_mask) for s in subjects_from_folder(folder))
    return Baselines.fit(pairs, modalities, description=description)


def main(argv=None) -> int:
    """Runs the command line; returns the exit status (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    from tfds_brats import subjects  # pylint: disable=import-outside-toplevel

    from magan_keras.inference.synthesis import InputError, parse_contrast_list  # pylint: disable=import-outside-toplevel

    try:
        if args.batch_size < 1:
            raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
        out_dir = pathlib.Path(args.out_dir)
        existing = [out_dir / n for n in OUTPUT_FILES if (out_dir / n).exists()]
        if existing and not args.overwrite:
            raise InputError(f"{existing[0]} exists; pass --overwrite to replace it")
        generator = inference.load_generator(args.model)
        modalities = tuple(generator.modalities)
        targets = parse_contrast_list(args.target, modalities)
        start = time.perf_counter()
        baselines = fit_baselines_for(args, modalities)
        fit_seconds = time.perf_counter() - start
        examples = (load_split(args.dataset, args.split, args.tfds_data_dir) if args.dataset
                    else args.data_dir)
        source = f"{args.dataset} split '{args.split}'" if args.dataset else args.data_dir
        results = evaluate_model(
            generator, examples, targets=targets, baselines=baselines, batch_size=args.batch_size,
            canvas_size=args.canvas_size, max_subjects=args.max_subjects, progress=not args.quiet,
            notes=[f"model: {args.model}; data: {source}; baselines fitted in {fit_seconds:.1f} s"],
        )
        paths = results.write(out_dir, overwrite=args.overwrite)
    except (InputError, inference.ModelError, subjects.SubjectError, subjects.NoSubjectsError,
            FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(results.to_markdown())
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
