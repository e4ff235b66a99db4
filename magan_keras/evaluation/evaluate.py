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

from magan_keras.evaluation import challenge, protocols
from magan_keras.evaluation.baselines import DESCRIPTIONS as BASELINE_DESCRIPTIONS
from magan_keras.evaluation.baselines import METHODS as BASELINE_METHODS
from magan_keras.evaluation.results import MODEL_METHOD, EvaluationResults
from magan_keras.evaluation.subjects import subjects_from_folder, subjects_from_split
from magan_keras.inference import generator as inference
from magan_keras.modalities import BRATS_MODALITIES


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
) -> EvaluationResults:
    """Scores a model (and the baselines) per subject and target with both protocols.

    Args:
        model: a `MAGAN`, its generator, or a `.keras` path (`inference.load_generator`).
        examples: a prepared split (`tf.data.Dataset` of slice features), a BraTS folder path,
            or an iterable of `SubjectData`.
        targets: contrasts to score as targets (default: all of the model's).
        baselines: a fitted `Baselines` (scored alongside), or None.
        batch_size: int. Slices per model call.
        canvas_size: int or None. Canvas for whole volumes; None uses the model's saved
            preprocessing (`inference.synthesize_volume`). Only for subjects not at the model's size.
        max_subjects: int or None. Score at most this many subjects.
        progress: bool. Show a progress bar over subjects on stderr.
        notes: extra lines for the report.

    Returns:
        `EvaluationResults`.

    Raises:
        ValueError: an unknown target, a split of another size than the model's, a folder for a
            model of other contrasts, or no subject.

    Example: see the module docstring.
    """
    generator = inference.load_generator(model)
    modalities = tuple(generator.modalities)
    preprocessing = model_preprocessing(generator)
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
        source_note = (
            "prepared split: each subject's stored slices stacked as its volume, at the "
            "stored size; BraSyn truth = stored slices on the unit scale"
        )
    elif isinstance(examples, (str, os.PathLike)):
        if modalities != BRATS_MODALITIES:
            raise ValueError(
                f"a BraTS folder has the contrasts {BRATS_MODALITIES}; the model was trained on {modalities}"
            )
        subject_source = subjects_from_folder(examples, max_subjects, preprocessing.min_brain_fraction)
        canvas = (
            f"canvas {canvas_size} px (given)"
            if canvas_size is not None
            else "canvas from the model's saved preprocessing"
        )
        source_note = (
            f"BraTS folder {examples}: whole volumes synthesised at their own "
            f"resolution as `magan_keras.synthesize` does ({canvas}); BraSyn truth = scanner "
            f"volume; per slice: slices with >= {preprocessing.min_brain_fraction:g} brain"
        )
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
                predictions = {
                    MODEL_METHOD: model_prediction(
                        generator, subject, available, t, batch_size=batch_size, canvas_size=canvas_size
                    )
                }
                model_seconds += time.perf_counter() - start
                volumes_done += 1
                for method in methods[1:]:
                    predictions[method] = baselines.predict(method, subject.images, available, t, subject.brain_mask)
                truth = subject.images[..., t]
                truth_brasyn = (
                    subject.scanner[target]
                    if subject.scanner is not None
                    else inference.to_unit_scale(truth, subject.brain_mask)
                )
                for method, prediction in predictions.items():
                    row = {
                        "subject_id": subject.subject_id,
                        "target": target,
                        "method": method,
                        "slices": len(subject.slice_indices),
                    }
                    row.update(
                        protocols.brasyn_metrics(
                            inference.to_unit_scale(prediction, subject.brain_mask),
                            truth_brasyn,
                            subject.brain_mask,
                            subject.seg,
                        )
                    )
                    row.update(
                        challenge.challenge_metrics(
                            inference.to_unit_scale(prediction, subject.brain_mask), truth_brasyn, subject.seg
                        )
                    )
                    scores = protocols.slice_metrics(prediction, truth, subject.brain_mask, subject.slice_indices)
                    row.update({k: scores[k] for k in protocols.SLICE_METRICS})
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
    all_notes = [source_note, f"targets scored with every other contrast given ({', '.join(modalities)})"]
    if preprocessing.assumed:
        all_notes.append(
            "the model carries no preprocessing record (saved before it was kept): the "
            "`brats` builder's defaults are assumed"
        )
    all_notes.append(
        "magan: the model; "
        + "; ".join(f"{m}: {BASELINE_DESCRIPTIONS[m]}, fitted on {baselines.description}" for m in methods[1:])
        if baselines is not None
        else "magan: the model (no baselines)"
    )
    all_notes.append(
        "BraSyn: each volume clipped to its own 0.5/99.5 percentiles (lower >= 0) and "
        "scaled to [0, 1]; 3-D SSIM (Gaussian 11, sigma 1.5) averaged over the brain, the "
        "tumour (seg > 0) and the non-tumour brain; PSNR over the brain"
    )
    all_notes.append(
        "per slice: [-1, 1] -> [0, 1], PSNR / MAE over brain pixels, SSIM map (as "
        "tf.image.ssim, mirror-extended) averaged over brain pixels, mean over slices "
        "(PSNR capped at 100 dB)"
    )
    all_notes.append("mean ± standard deviation over subjects (ddof=0)")
    all_notes.extend(notes)
    seconds = model_seconds / volumes_done if volumes_done else math.nan
    all_notes.append(f"model time: {seconds:.2f} s per synthesised volume")
    return EvaluationResults(rows, targets, methods, examples_out, all_notes, seconds)


def model_prediction(generator, subject, available, target, *, batch_size=8, canvas_size=None):
    """The model's synthesis of one subject's target on the model scale, -1 outside the brain.

    Args:
        generator: from `inference.load_generator`.
        subject: `SubjectData`. At the model's size (`model_size`) its slices go to the model
            as they are; otherwise the volume is synthesised whole (`inference.synthesize_volume`).
        available: `[M]` 0/1 (the target 0).
        target: int channel of the target.
        batch_size: int. Slices per model call.
        canvas_size: int or None. Canvas for a whole volume; None: the model's saved preprocessing.

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
