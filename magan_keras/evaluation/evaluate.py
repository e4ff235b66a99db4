"""`evaluate_model`: score a trained MA-GAN (and the baselines) the way the field does.

For every subject and target contrast (the paper's setting: the target missing, every other
contrast given), the model and two baselines (`magan_keras.evaluation.baselines`: the best single
available contrast after intensity matching, and a voxel-wise linear regression, both fitted on
a training split) are scored with both protocols of DESIGN.md (`magan_keras.evaluation.protocols`):
BraSyn's per-volume SSIM (whole brain, tumour, non-tumour brain) and PSNR, and per-slice PSNR,
SSIM and MAE inside the brain. The table gives the mean and the standard deviation (numpy,
ddof=0) over subjects (`magan_keras.evaluation.results`).

The subjects come from a prepared split, a BraTS folder or a list of `SubjectData`
(`magan_keras.evaluation.subjects`). Whole volumes of a folder are synthesised at their own
resolution as `magan_keras.synthesize` does it, with the model's saved preprocessing (its canvas;
its minimum brain fraction picks the slices of the per-slice protocol). The command line is
`python -m magan_keras.evaluate` (`magan_keras.cli.evaluate`).

Example (a real run: `evaluate_model("model.keras", load_split("brats/slices_128", "test"),
baselines=Baselines.fit(train_split, max_examples=DEFAULT_MAX_EXAMPLES))`):
>>> import numpy as np
>>> from magan_keras.evaluation.baselines import Baselines
>>> from magan_keras.evaluation.evaluate import evaluate_model
>>> from magan_keras.evaluation.subjects import SubjectData
>>> from magan_keras.models import MultiBranchGenerator
>>> rng = np.random.default_rng(0)
>>> mask = np.zeros((16, 16, 4), bool)
>>> mask[3:13, 3:13] = True
>>> images = np.where(mask[..., None], rng.uniform(-0.5, 0.5, (16, 16, 4, 4)), -1.0).astype(np.float32)
>>> subject = SubjectData("s1", images, mask, None, None, np.arange(4), model_size=True)
>>> generator = MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1)
>>> baselines = Baselines.fit([(images, mask)])
>>> results = evaluate_model(generator, [subject], targets=["flair"], baselines=baselines)
>>> results.methods, len(results.rows)
(('magan', 'best_single', 'linear'), 3)
>>> path = results.write("report")[0]
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterable

import numpy as np

from magan_keras.evaluation import challenge, protocols, segmentation, through_plane
from magan_keras.evaluation.baselines import DESCRIPTIONS as BASELINE_DESCRIPTIONS
from magan_keras.evaluation.baselines import METHODS as BASELINE_METHODS
from magan_keras.evaluation.predictions import PredictionSource
from magan_keras.evaluation.results import MODEL_METHOD, EvaluationResults
from magan_keras.evaluation.subjects import subjects_from_folder, subjects_from_split
from magan_keras.inference import generator as inference
from magan_keras.inference import planes as plane_synthesis
from magan_keras.modalities import BRATS_MODALITIES
from tfds_brats.planes import DEFAULT_PLANES, parse_planes


def model_preprocessing(generator):
    """The generator's saved `tfds_brats.preprocessing.Preprocessing` (defaults, marked `assumed`, if none).

    Args:
        generator: from `inference.load_generator` (any model with `modalities`).

    Example:
    >>> from magan_keras.evaluation.evaluate import model_preprocessing
    >>> from magan_keras.models import MultiBranchGenerator
    >>> record = model_preprocessing(MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1))
    >>> record.min_brain_fraction, record.assumed
    (0.05, True)
    """
    from tfds_brats.preprocessing import Preprocessing  # pylint: disable=import-outside-toplevel

    return Preprocessing.from_config(getattr(generator, "preprocessing", None), tuple(generator.modalities))


class ModelSource:
    """A model as the source of the predictions `evaluate_model` scores (`PredictionSource` reads files).

    Args:
        model: a `MAGAN`, its generator, or a `.keras` path (`inference.load_generator`).
        batch_size: int. Slices per model call.
        canvas_size: int or None. Canvas for whole volumes (None: the model's saved preprocessing).
        planes: slice orientations synthesised and fused (`magan_keras.inference.planes`), or
            None (axial, as trained).

    Example:
    >>> from magan_keras.evaluation.evaluate import ModelSource
    >>> from magan_keras.models import MultiBranchGenerator
    >>> source = ModelSource(MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1))
    >>> source.method, source.modalities
    ('magan', ('t1', 't1ce', 't2', 'flair'))
    """

    def __init__(self, model, batch_size=8, canvas_size=None, planes=None):
        self.planes = parse_planes(planes)
        self.generator = inference.load_generator(model)
        self.method = MODEL_METHOD
        self.modalities = tuple(self.generator.modalities)
        self.preprocessing = getattr(self.generator, "preprocessing", None)
        self.batch_size, self.canvas_size = batch_size, canvas_size
        self.seconds = 0.0

    def predict(self, subject, available, target):
        """The model's synthesis (`model_prediction`), timed in `seconds`."""
        start = time.perf_counter()
        volume = model_prediction(
            self.generator,
            subject,
            available,
            target,
            batch_size=self.batch_size,
            canvas_size=self.canvas_size,
            planes=self.planes,
        )
        self.seconds += time.perf_counter() - start
        return volume

    def description(self) -> str:
        """One line for the report."""
        per_plane = self.generator.models if isinstance(self.generator, plane_synthesis.PlaneModels) else {}
        own = sorted(p for p in per_plane if p in self.planes)
        model = f"the model, with its own model for {', '.join(own)}" if own else "the model"
        if self.planes == DEFAULT_PLANES:
            return f"{self.method}: {model}"
        return f"{self.method}: {model}, {', '.join(self.planes)} syntheses fused by their voxel-wise mean"


def evaluate_model(
    model,
    examples,
    *,
    targets=None,
    baselines=None,
    batch_size=8,
    canvas_size=None,
    max_subjects=None,
    progress=False,
    notes=(),
    brasyn_dropout=False,
    segmenter=None,
    input_checks=True,
    subject_ids=None,
    planes=None,
) -> EvaluationResults:
    """Scores a model (and the baselines) per subject and target with both protocols.

    Args:
        model: a `MAGAN`, its generator, or a `.keras` path (`inference.load_generator`); or a
            `magan_keras.evaluation.predictions.PredictionSource` (files any model wrote, scored
            against a BraTS folder `examples`).
        examples: a prepared split (`tf.data.Dataset` of slice features), a BraTS folder path,
            or an iterable of `SubjectData`.
        targets: contrasts to score as targets (default: all of the model's; for prediction
            files, every contrast that has a file).
        brasyn_dropout: bool. The challenge's missing-modality protocol: each subject of the
            BraTS folder `examples` is scored on the one contrast the organisers'
            `dropout_modality.py` drops for it (`challenge.brasyn_dropout_for_folder`), the
            other three given; `targets` must be None.
        baselines: a fitted `Baselines` (scored alongside), or None.
        segmenter: a `magan_keras.evaluation.segmentation.Segmenter`, or None. Runs on each
            subject's four real contrasts and with the model's synthesis in place of each target;
            its Dice / HD95 against the ground truth go into the model's rows, real vs synthetic
            (`segmentation.SEGMENTATION_METRICS`). Needs the BraTS contrasts and segmentations.
        batch_size: int. Slices per model call.
        canvas_size: int or None. Canvas for whole volumes; None uses the model's saved
            preprocessing (`inference.synthesize_volume`). Only for subjects not at the model's size.
        max_subjects: int or None. Score at most this many subjects.
        input_checks: bool. A BraTS folder's subjects are checked (`tfds_brats.checks`) as read;
            a failure stops before anything is written.
        progress: bool. Show a progress bar over subjects on stderr.
        notes: extra lines for the report.
        subject_ids: collection of ids, or None. Of a BraTS folder `examples`, score only these
            (e.g. the subjects a split file calls `test`).
        planes: the model's synthesis made along these slice orientations and fused
            (`magan_keras.inference.planes`; names or "axial,coronal,sagittal"); None: axial.

    Returns:
        `EvaluationResults`.

    Raises:
        ValueError: an unknown target, a split of another size than the model's, a folder for a
            model of other contrasts, or no subject.
        PredictionError: a missing prediction file (all listed) or one on another grid than its truth.

    Example: see the module docstring.
    """
    if isinstance(model, PredictionSource) and parse_planes(planes) != DEFAULT_PLANES:
        raise ValueError("--planes synthesises with a model: prediction files are scored as written")
    source = (
        model if isinstance(model, PredictionSource) else ModelSource(model, batch_size, canvas_size, planes=planes)
    )
    modalities = source.modalities
    preprocessing = model_preprocessing(source)
    from_files = isinstance(source, PredictionSource)
    if (from_files or brasyn_dropout) and not isinstance(examples, (str, os.PathLike)):
        raise ValueError("prediction files and --brasyn-dropout need a BraTS folder of truth subjects")
    dropped = challenge.brasyn_dropout_for_folder(examples) if brasyn_dropout else None
    if dropped is not None and targets:
        raise ValueError("--brasyn-dropout picks each subject's target; give no --target with it")
    file_notes = []
    if from_files:
        expected = source.expected(examples, targets, dropped, max_subjects)
        targets = tuple(targets or source.found.contrasts())
        file_notes = source.check(expected)
    if dropped is not None:
        picked = list(dropped.values())[:max_subjects]
        targets = tuple(m for m in modalities if m in picked)
    targets = tuple(targets or modalities)
    for target in targets:
        if target not in modalities:
            raise ValueError(f"target {target!r} is not one of the model's contrasts {modalities}")
    if segmenter is not None and modalities != BRATS_MODALITIES:
        raise ValueError(f"--segmenter takes the BraTS contrasts {BRATS_MODALITIES}; the model has {modalities}")
    source_note = "subjects given as SubjectData"
    try:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        is_dataset = isinstance(examples, tf.data.Dataset)
    except ImportError:  # pragma: no cover
        is_dataset = False
    if is_dataset:
        subject_source: Iterable = subjects_from_split(examples, modalities, max_subjects)
        source_note = (
            "prepared split: each subject's stored slices stacked as its volume, at the "
            "stored size; BraSyn truth = stored slices on the unit scale"
        )
    elif isinstance(examples, (str, os.PathLike)):
        if modalities != BRATS_MODALITIES:
            raise ValueError(
                f"a BraTS folder has the contrasts {BRATS_MODALITIES}; the model was trained on {modalities}"
            )
        subject_source = subjects_from_folder(
            examples, max_subjects, preprocessing.min_brain_fraction, input_checks=input_checks, subject_ids=subject_ids
        )
        canvas = (
            f"canvas {canvas_size} px (given)"
            if canvas_size is not None
            else "canvas from the model's saved preprocessing"
        )
        made = (
            f"predictions read from {source.found.folder}"
            if from_files
            else f"whole volumes synthesised at their own resolution as `magan_keras.synthesize` does ({canvas})"
        )
        source_note = (
            f"BraTS folder {examples}: {made}; BraSyn truth = scanner "
            f"volume; per slice: slices with >= {preprocessing.min_brain_fraction:g} brain"
        )
    else:
        subject_source = list(examples)[:max_subjects]
    methods = (source.method,) + (BASELINE_METHODS if baselines is not None else ())
    rows, examples_out, volumes_done = [], {}, 0
    bar = None
    if progress:
        from tqdm.auto import tqdm  # pylint: disable=import-outside-toplevel

        bar = tqdm(desc="evaluating", unit="subject", file=sys.stderr)
    try:
        for subject in subject_source:
            seg_real = segmenter.scores(subject) if segmenter is not None else None
            for target in targets if dropped is None else (dropped[subject.subject_id],):
                t = modalities.index(target)
                available = np.ones(len(modalities), np.float32)
                available[t] = 0.0
                predictions = {source.method: source.predict(subject, available, t)}
                volumes_done += 1
                for method in methods[1:]:
                    predictions[method] = baselines.predict(method, subject.images, available, t, subject.brain_mask)
                truth = subject.images[..., t]
                truth_brasyn = (
                    subject.scanner[target]
                    if subject.scanner is not None
                    else inference.to_unit_scale(truth, subject.brain_mask)
                )
                # The BraSyn protocols renormalise each volume: they score a file as written.
                written = {m: inference.to_unit_scale(p, subject.brain_mask) for m, p in predictions.items()}
                if from_files:
                    written[source.method] = source.as_written(subject, t)
                for method, prediction in predictions.items():
                    row = {
                        "subject_id": subject.subject_id,
                        "target": target,
                        "method": method,
                        "slices": len(subject.slice_indices),
                    }
                    row.update(
                        protocols.brasyn_metrics(
                            written[method],
                            truth_brasyn,
                            subject.brain_mask,
                            subject.seg,
                        )
                    )
                    row.update(challenge.challenge_metrics(written[method], truth_brasyn, subject.seg))
                    scores = protocols.slice_metrics(prediction, truth, subject.brain_mask, subject.slice_indices)
                    row.update({k: scores[k] for k in protocols.SLICE_METRICS})
                    row.update(through_plane.through_plane_metrics(prediction, truth, subject.brain_mask))
                    if seg_real is not None and method == source.method:
                        synthetic = segmenter.scores(subject, {target: prediction})
                        row.update(segmentation.row_columns(seg_real, synthetic))
                    rows.append(row)
                if target not in examples_out and len(subject.slice_indices):
                    index = int(subject.slice_indices[len(subject.slice_indices) // 2])
                    examples_out[target] = {
                        "subject_id": subject.subject_id,
                        "slice_index": index,
                        "truth": inference.to_unit_scale(truth[:, :, index], subject.brain_mask[:, :, index]),
                        **{
                            m: inference.to_unit_scale(p[:, :, index], subject.brain_mask[:, :, index])
                            for m, p in predictions.items()
                        },
                    }
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if not rows:
        raise ValueError("no subject to evaluate")
    given = (
        "each subject's target is the contrast the BraSyn organisers' `dropout_modality.py` "
        f"(commit {challenge.DROPOUT_COMMIT}, seed {challenge.DROPOUT_SEED}, sorted folders) drops"
        if dropped is not None
        else "targets"
    )
    all_notes = [source_note, f"{given} scored with every other contrast given ({', '.join(modalities)})"]
    all_notes.extend(file_notes)
    unseen = [p for p in getattr(source, "planes", DEFAULT_PLANES) if p not in preprocessing.planes]
    if unseen and not from_files:
        all_notes.append(
            f"synthesised along {', '.join(unseen)} slices, which the model never saw in training "
            f"(trained on {', '.join(preprocessing.planes)})"
        )
    if preprocessing.assumed and not from_files:
        all_notes.append(
            "the model carries no preprocessing record (saved before it was kept): the "
            "`brats` builder's defaults are assumed"
        )
    all_notes.append(
        f"{source.description()}; "
        + "; ".join(f"{m}: {BASELINE_DESCRIPTIONS[m]}, fitted on {baselines.description}" for m in methods[1:])
        if baselines is not None
        else f"{source.description()} (no baselines)"
    )
    all_notes.append(
        "BraSyn: each volume clipped to its own 0.5/99.5 percentiles (lower >= 0) and "
        "scaled to [0, 1]; 3-D SSIM (Gaussian 11, sigma 1.5), PSNR and MAE over the brain, the "
        "tumour (seg > 0) and the non-tumour brain"
    )
    all_notes.append(
        "per slice: [-1, 1] -> [0, 1], PSNR / MAE over brain pixels, SSIM map (as "
        "tf.image.ssim, mirror-extended) averaged over brain pixels, mean over slices "
        "(PSNR capped at 100 dB)"
    )
    all_notes.append(
        "through the volume (`through_plane`, per-slice scale): 2-D SSIM of every axial, coronal "
        "and sagittal slice averaged over brain voxels; roughness = mean |second difference| "
        "along z (in-plane: x and y) of the synthesis over the truth's, inside the brain (1 = as "
        "smooth as the truth, > 1 stripes)"
    )
    if segmenter is not None:
        all_notes.extend([segmenter.describe(), segmentation.NOTE])
    all_notes.append("mean ± standard deviation over subjects (ddof=0)")
    all_notes.extend(notes)
    seconds = source.seconds / volumes_done if volumes_done else math.nan
    what = "reading a prediction file" if from_files else "model time"
    all_notes.append(f"{what}: {seconds:.2f} s per volume")
    return EvaluationResults(rows, targets, methods, examples_out, all_notes, seconds)


def model_prediction(generator, subject, available, target, *, batch_size=8, canvas_size=None, planes=None):
    """The model's synthesis of one subject's target on the model scale, -1 outside the brain.

    Args:
        generator: from `inference.load_generator`.
        subject: `SubjectData`. At the model's size (`model_size`) its slices go to the model
            as they are; otherwise the volume is synthesised whole (`inference.synthesize_volume`).
        available: `[M]` 0/1 (the target 0).
        target: int channel of the target.
        batch_size: int. Slices per model call.
        canvas_size: int or None. Canvas for a whole volume; None: the model's saved preprocessing.
        planes: slice orientations to synthesise along and fuse (`magan_keras.inference.planes`),
            or None (axial). A model-size subject's volume is its stacked slices, sliced on a
            canvas of the model's size (for data resized from a larger canvas, its z axis keeps
            the scanner's spacing while x and y are resampled).

    Returns:
        float32 `[X, Y, Z]` in [-1, 1].

    Raises:
        ValueError: a model-size subject whose slices are not the model's size.

    Example:
    >>> from magan_keras.evaluation.evaluate import model_prediction
    >>> import numpy as np
    >>> from magan_keras.evaluation.subjects import SubjectData
    >>> from magan_keras.models import MultiBranchGenerator
    >>> mask = np.ones((16, 16, 2), bool)
    >>> subject = SubjectData("s1", np.zeros((16, 16, 2, 4), np.float32), mask, None, None, np.arange(2), True)
    >>> generator = MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1)
    >>> model_prediction(generator, subject, np.array([1, 1, 1, 0], np.float32), 3).shape
    (16, 16, 2)
    """
    if parse_planes(planes) != DEFAULT_PLANES:
        if subject.model_size and subject.images.shape[:2] != (int(generator.image_size),) * 2:
            raise ValueError(
                f"subject {subject.subject_id}: slices are {subject.images.shape[:2]} but the model takes "
                f"{generator.image_size} x {generator.image_size}"
            )
        return plane_synthesis.synthesize_planes(
            generator,
            subject.images * available,
            available,
            target,
            subject.brain_mask,
            planes=planes,
            canvas_size=int(generator.image_size) if subject.model_size else canvas_size,
            batch_size=batch_size,
        )
    if not subject.model_size:
        return inference.synthesize_volume(
            generator,
            subject.images * available,
            available,
            target,
            subject.brain_mask,
            canvas_size=canvas_size,
            batch_size=batch_size,
        )
    size = int(generator.image_size)
    if subject.images.shape[:2] != (size, size):
        raise ValueError(
            f"subject {subject.subject_id}: slices are {subject.images.shape[:2]} but the model takes {size} x {size}"
        )
    stack = np.moveaxis(subject.images, 2, 0)  # [K, S, S, M]
    synthesis = inference.predict_slices(generator, stack, available, target, batch_size=batch_size)
    volume = np.clip(np.moveaxis(synthesis, 0, 2), -1.0, 1.0)
    volume[~subject.brain_mask] = -1.0
    return volume
