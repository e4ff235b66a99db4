"""`python -m studies.real_loso`: leave-one-subject-out on real subjects, model against both baselines.

For every subject of `--data-dir` (a folder of BraTS-named subjects, either release's naming) one
fold: a split file gives that subject to `test` and every other subject to `train` (validation
stays empty: the run trains without validation, with a warning), and the model is trained through
the one training path (`magan_keras.training.run.train`, as `python -m magan_keras.train
--split-file` does). Each fold's held-out subject is then scored on the scan's own grid, as a user
would score it (`magan_keras.evaluation.evaluate_model` on the BraTS folder, both protocols: the
challenge's SSIM and the brain-restricted volume and slice scores; both baselines fitted on the
fold's training subjects at full resolution), and synthesised with `--uncertainty`'s machinery
(`studies.uncertainty.folder_cases`): Spearman rho between uncertainty and absolute error, and
axial, coronal and sagittal cuts of truth, synthesis and error for the figures.

Variants (`--variants`, each over every fold): `default` (the training defaults, only the image
size, epochs and steps set), `bfloat16` (`precision="mixed_bfloat16"`), `no_ssim_loss`
(`lambda_ssim=0`), `no_skip` (`decoder_skip=False`), `pooled` (`pooled_attention=True`, the
size-free modal attention, at the study's size) and `full_res_crop` (`image_size=256`, the BraTS
canvas at 1 mm, trained on random 128 px crops with the pooled attention: the same pixels per step
as a 128 px model, no 2x resampling), `paper_lr` (`learning_rate=2e-4`, the paper's) and
`no_attention_losses` (`alpha=beta=0`: no intra- or inter-modal attention loss) and `context_1`
(`context_slices=1`: 2.5-D, one neighbour on each side), `context_2` (two on each side) and
`planes` (`planes="axial,coronal,sagittal"`: one model trained on slices of all three
orientations), `no_lr_decay` (`lr_decay="none"`: the learning rate held for the whole run),
`gamma_0.25` and `gamma_0.75` (the modal attention trade-off either side of the default 0.5) and
`width_32` (`base_filters=32`, twice the default width), `full_res_crop_width_32` (the crop-trained
1 mm model at width 32) and `epochs_2x` (the default trained for twice the study's `--epochs`: about
`width_32`'s training time, so the two read as width against compute). The default always runs (added when
not named): the tables and figures are the default's, and each other variant is read against it.

Through the volume (`THROUGH_PLANE_VARIANTS`: the default, the crop-trained 1 mm model, the 2.5-D and the
three-plane models):
each such fold is also synthesised axially and fused over the three planes
(`evaluate_model(planes=...)`, as `evaluate --planes` does) and scored by the brain and challenge
SSIMs, slice SSIM per orientation and the roughness along z and in-plane
(`magan_keras.evaluation.through_plane`); kept in `real_loso_through_plane.json` and
`real_loso_through_plane_cuts.npz` (FLAIR coronal and sagittal cuts) beside the fold's run, and
computed for finished runs of an earlier session too.

Every fold trains in float32 on every machine (not the training command's `precision="auto"`), so
the tables compare across machines; the `bfloat16` variant measures bfloat16.

Finished runs are reused, so an interrupted study resumes; a finished run whose saved
configuration differs from the one asked for is refused before anything trains (the error names
the folder and the options). Each fold's scores, wall times and cuts are kept in the run folder
(`real_loso.json`, `real_loso_cuts.npz`); the page section (`--results-page`) is rewritten
between its markers, the rest of the page is left as it is.

    python -m studies.real_loso --data-dir ../shared/data --output-dir runs/real_loso \\
        --results-page docs/results.md

Example:
>>> from studies.real_loso import fold_splits
>>> fold_splits(["a", "b", "c"])["b"]
{'a': 'train', 'b': 'test', 'c': 'train'}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from magan_keras import atomic
from magan_keras.modalities import BRATS_MODALITIES
from studies import volume_tables

VARIANTS = {
    "default": {},
    "bfloat16": {"precision": "mixed_bfloat16"},
    "no_ssim_loss": {"lambda_ssim": 0.0},
    "no_skip": {"decoder_skip": False},
    "pooled": {"pooled_attention": True},
    "full_res_crop": {"image_size": 256, "crop_size": 128, "pooled_attention": True},
    "paper_lr": {"learning_rate": 2e-4},
    "no_attention_losses": {"alpha": 0.0, "beta": 0.0},
    "context_1": {"context_slices": 1},
    "context_2": {"context_slices": 2},
    "planes": {"planes": "axial,coronal,sagittal"},
    "no_lr_decay": {"lr_decay": "none"},
    "gamma_0.25": {"gamma": 0.25},
    "gamma_0.75": {"gamma": 0.75},
    "width_32": {"base_filters": 32},
    "full_res_crop_width_32": {"image_size": 256, "crop_size": 128, "pooled_attention": True, "base_filters": 32},
    "epochs_2x": {},
}
# Variants whose switch is relative to the study's own `--epochs`: the run trains this many times as long.
EPOCH_FACTORS = {"epochs_2x": 2}
METHODS = ("magan", "best_single", "linear")
METRICS = ("challenge_ssim_non_tumour", "brain_ssim", "brain_psnr", "brain_mae", "slice_ssim", "slice_psnr")
TITLES = {
    "challenge_ssim_non_tumour": "challenge SSIM",
    "brain_ssim": "brain SSIM",
    "brain_psnr": "brain PSNR",
    "brain_mae": "brain MAE",
    "slice_ssim": "slice SSIM",
    "slice_psnr": "slice PSNR",
}
RESULT_FILE = "real_loso.json"
CUTS_FILE = "real_loso_cuts.npz"
THROUGH_PLANE_VARIANTS = ("default", "full_res_crop", "context_1", "context_2", "planes")
FUSIONS = volume_tables.FUSIONS
THROUGH_PLANE_FILE = "real_loso_through_plane.json"
THROUGH_PLANE_CUTS = "real_loso_through_plane_cuts.npz"
THROUGH_PLANE_CUT_TARGET = "flair"
SECTION_START = "<!-- studies.real_loso: start -->"
SECTION_END = "<!-- studies.real_loso: end -->"


def fold_splits(subject_ids) -> dict:
    """One split mapping per held-out subject: it goes to `test`, every other subject to `train`.

    Args:
        subject_ids: sequence of str, at least 2, no duplicates.

    Returns:
        dict held-out id -> {subject id: split}, in sorted order of ids.

    Raises:
        ValueError: fewer than 2 subjects, or an id given twice (named).

    Example:
    >>> from studies.real_loso import fold_splits
    >>> sorted(fold_splits(["b", "a"]))
    ['a', 'b']
    >>> fold_splits(["a"])
    Traceback (most recent call last):
    ...
    ValueError: leave-one-subject-out needs at least 2 subjects, got 1: ['a']
    """
    ids = sorted(subject_ids)
    if len(ids) < 2:
        raise ValueError(f"leave-one-subject-out needs at least 2 subjects, got {len(ids)}: {ids}")
    repeated = sorted({s for s in ids if ids.count(s) > 1})
    if repeated:
        raise ValueError(f"subject ids given more than once: {repeated}")
    return {held: {s: "test" if s == held else "train" for s in ids} for held in ids}


def fold_config(base, variant, held_out, split_file, output_dir, tfds_data_dir):
    """The `TrainConfig` of one fold: the base config, the variant's options, the fold's split.

    Args:
        base: `TrainConfig` every run starts from (its `data_dir` is the subjects' folder).
        variant: str. A key of `VARIANTS`.
        held_out: str. The fold's test subject.
        split_file: str. The fold's split file.
        output_dir: str. The study's folder; the run goes to `output_dir/variant/held_out`.
        tfds_data_dir: str. The study's TFDS folder; each fold prepares its own `tfds_data_dir/held_out`.

    Example:
    >>> from magan_keras.training.config import TrainConfig
    >>> from studies.real_loso import fold_config
    >>> _ = open("split.json", "w").write('{"a": "train", "b": "test"}')
    >>> config = fold_config(TrainConfig(image_size=32), "no_skip", "b", "split.json", "runs/loso", "tfds")
    >>> config.decoder_skip, config.output_dir, config.tfds_data_dir
    (False, 'runs/loso/no_skip/b', 'tfds/b')
    """
    return base.replace(
        **VARIANTS[variant],
        epochs=base.epochs * EPOCH_FACTORS.get(variant, 1),
        split_file=split_file,
        output_dir=os.path.join(output_dir, variant, held_out),
        tfds_data_dir=os.path.join(tfds_data_dir, held_out),
    )


def write_split_files(splits, folder) -> dict:
    """Writes `folder/<held-out>.json` per fold (unchanged files are left alone); returns id -> path.

    Args:
        splits: from `fold_splits`.
        folder: str.

    Example:
    >>> from studies.real_loso import fold_splits, write_split_files
    >>> paths = write_split_files(fold_splits(["a", "b"]), "splits")
    >>> open(paths["a"]).read()
    '{\\n  "a": "test",\\n  "b": "train"\\n}\\n'
    """
    paths = {}
    for held, mapping in splits.items():
        path = os.path.join(folder, f"{held}.json")
        text = json.dumps(mapping, indent=2) + "\n"
        if not (os.path.isfile(path) and open(path, encoding="utf-8").read() == text):
            atomic.write_text(path, text)
        paths[held] = path
    return paths


def plan_runs(base, variants, subjects, split_paths, output_dir, tfds_data_dir):
    """Every (variant, fold) config, with finished runs checked against it before anything trains.

    Args:
        base: `TrainConfig`.
        variants: list of `VARIANTS` keys.
        subjects: list of held-out subject ids (one fold each).
        split_paths: dict id -> split file (`write_split_files`).
        output_dir, tfds_data_dir: str. The study's folders.

    Returns:
        list of `(variant, held_out, config, folder, finished)`.

    Raises:
        RunFolderError: a finished run folder holds another configuration (named, with the options).
    """
    from magan_keras.training.run import CONFIG_FILE, FINISHED_FILE, RunFolderError, config_differences

    plan = []
    for variant in variants:
        for held in subjects:
            config = fold_config(base, variant, held, split_paths[held], output_dir, tfds_data_dir)
            folder = os.path.abspath(config.output_dir)
            finished = os.path.exists(os.path.join(folder, FINISHED_FILE))
            if finished:
                with open(os.path.join(folder, CONFIG_FILE)) as f:
                    differing = config_differences(json.load(f), config)
                if differing:
                    raise RunFolderError(
                        f"{folder} holds a finished {variant} run held out {held} with another configuration "
                        f"(saved vs requested: {differing}); choose another --output-dir or remove that folder"
                    )
            plan.append((variant, held, config, folder, finished))
    return plan


def _cuts(volume, centre):
    """Axial, coronal and sagittal cuts of `[X, Y, Z]` through `centre`, rotated for display."""
    x, y, z = centre
    return np.rot90(volume[:, :, z]), np.rot90(volume[:, y, :]), np.rot90(volume[x, :, :])


def score_fold(config, folder, data_dir, held_out, subject_folder, train_ids):
    """Scores a finished fold on the scan's grid and with the uncertainty; writes `real_loso.json` and cuts.

    Args:
        config: the fold's `TrainConfig`.
        folder: str. The finished run folder.
        data_dir: str. The subjects' folder.
        held_out: str. The test subject.
        subject_folder: str. The folder of the held-out subject's files.
        train_ids: list of str. The fold's training subjects (the baselines' fit).

    Returns:
        dict: `rows` (per target and method, `METRICS`), `uncertainty` (per target,
        `studies.uncertainty.score_case`), `seconds_scoring`.
    """
    from magan_keras.evaluation.baselines import Baselines
    from magan_keras.evaluation.evaluate import evaluate_model
    from magan_keras.evaluation.subjects import subjects_from_folder
    from magan_keras.inference.generator import load_generator
    from studies.uncertainty import folder_cases, score_case

    start = time.perf_counter()
    model_path = os.path.join(folder, "model.keras")
    generator = load_generator(model_path)
    # The inputs were checked when the fold was prepared (`prepare` runs `tfds_brats.checks`).
    pairs = (
        (s.images, s.brain_mask) for s in subjects_from_folder(data_dir, input_checks=False, subject_ids=train_ids)
    )
    baselines = Baselines.fit(pairs, generator.modalities, description=f"the training subjects {train_ids}")
    results = evaluate_model(
        generator,
        data_dir,
        baselines=baselines,
        batch_size=config.batch_size,
        subject_ids=[held_out],
        input_checks=False,
    )
    results.write(os.path.join(folder, "evaluation_scan"), overwrite=True)
    rows = [
        {"target": r["target"], "method": r["method"], **{m: float(r[m]) for m in METRICS}}
        for r in results.rows
        if r["subject_id"] == held_out
    ]
    uncertainty, cuts = [], {}
    for case in folder_cases(generator, subject_folder, batch_size=config.batch_size, input_checks=False):
        subject_id, target, synthesis, truth, spread, brain, tumour = case
        uncertainty.append(score_case("real", *case))
        index = np.argwhere(brain)
        centre = tuple(int(v) for v in np.round(index.mean(axis=0)))
        error = np.abs(synthesis - truth)
        for name, volume in (("truth", truth), ("synthesis", synthesis), ("error", error), ("spread", spread)):
            for plane, cut in zip(("axial", "coronal", "sagittal"), _cuts(volume, centre)):
                cuts[f"{target}/{name}/{plane}"] = cut.astype(np.float16)
        # Error and truth signal per axial slice inside the brain (the top-slices question).
        count = brain.sum(axis=(0, 1))
        cuts[f"{target}/error_sum_z"] = (error * brain).sum(axis=(0, 1))
        cuts[f"{target}/truth_sum_z"] = (truth * brain).sum(axis=(0, 1))
        cuts[f"{target}/brain_count_z"] = count
    np.savez_compressed(os.path.join(folder, CUTS_FILE), **cuts)
    return {"rows": rows, "uncertainty": uncertainty, "seconds_scoring": time.perf_counter() - start}


def through_plane_scores() -> tuple:
    """The scores of the through-plane table: brain and challenge SSIM, then `through_plane`'s.

    Example:
    >>> from studies.real_loso import through_plane_scores
    >>> through_plane_scores()[:2], through_plane_scores()[-1]
    (('brain_ssim', 'challenge_ssim_non_tumour'), 'roughness_inplane')
    """
    from magan_keras.evaluation.through_plane import THROUGH_PLANE_METRICS

    return ("brain_ssim", "challenge_ssim_non_tumour") + tuple(THROUGH_PLANE_METRICS)


def score_through_plane(config, folder, data_dir, held_out, cut_target=THROUGH_PLANE_CUT_TARGET):
    """Scores a finished fold synthesised axially and fused over three planes; writes cuts of `cut_target`.

    Each of `FUSIONS` runs `evaluate_model(planes=...)` on the held-out subject (the model only:
    the baselines synthesise voxel by voxel, with no slice axis), so the scores are the ones
    `evaluate --planes` reports.

    Args:
        config: the fold's `TrainConfig`.
        folder: str. The finished run folder (`real_loso_through_plane_cuts.npz` is written there).
        data_dir: str. The subjects' folder.
        held_out: str. The test subject.
        cut_target: str. The contrast whose coronal and sagittal cuts are kept.

    Returns:
        dict: `rows` (per fusion and target, `through_plane_scores()`) and `seconds` (per fusion:
        synthesis and scoring of the four targets).
    """
    from magan_keras.evaluation.evaluate import evaluate_model, model_prediction, model_preprocessing
    from magan_keras.evaluation.subjects import subjects_from_folder
    from magan_keras.inference.generator import load_generator, to_unit_scale

    generator = load_generator(os.path.join(folder, "model.keras"))
    # Read once (as `evaluate_model` reads a folder): both fusions and the cuts use the same volumes.
    fraction = model_preprocessing(generator).min_brain_fraction
    (subject,) = subjects_from_folder(data_dir, None, fraction, input_checks=False, subject_ids=[held_out])
    rows, seconds = [], {}
    for fusion, planes in FUSIONS.items():
        start = time.perf_counter()
        results = evaluate_model(generator, [subject], batch_size=config.batch_size, planes=planes)
        seconds[fusion] = time.perf_counter() - start
        rows += [
            {"fusion": fusion, "target": r["target"], **{m: float(r[m]) for m in through_plane_scores()}}
            for r in results.rows
            if r["subject_id"] == held_out and r["method"] == "magan"
        ]
    t = list(generator.modalities).index(cut_target)
    available = np.ones(len(generator.modalities), np.float32)
    available[t] = 0.0
    centre = tuple(int(v) for v in np.round(np.argwhere(subject.brain_mask).mean(axis=0)))
    truth = to_unit_scale(subject.images[..., t], subject.brain_mask)
    cuts = {}
    for fusion, planes in FUSIONS.items():
        synthesis = to_unit_scale(
            model_prediction(generator, subject, available, t, batch_size=config.batch_size, planes=planes),
            subject.brain_mask,
        )
        for name, volume in (("truth", truth), (fusion, synthesis), (f"{fusion}_error", np.abs(synthesis - truth))):
            _, coronal, sagittal = _cuts(volume, centre)
            cuts[f"{name}/coronal"], cuts[f"{name}/sagittal"] = coronal.astype(np.float16), sagittal.astype(np.float16)
    np.savez_compressed(os.path.join(folder, THROUGH_PLANE_CUTS), **cuts)
    return {"rows": rows, "seconds": seconds, "cut_target": cut_target}


def run_study(base, variants, data_dir, output_dir, tfds_data_dir=None, verbose=2):
    """Trains (or reuses) and scores every variant x fold; returns `{(variant, held_out): fold result}`.

    A fold result is `score_fold`'s dict plus `held_out`, `train_ids`, `folder`,
    `seconds_training` (None when the run was reused from an earlier session) and `steps`.

    Args:
        base: `TrainConfig` (its data, split and output fields are set per fold).
        variants: list of `VARIANTS` keys.
        data_dir: str. Folder of BraTS-named subjects.
        output_dir: str. The study's folder (runs, split files).
        tfds_data_dir: str or None. Where the folds are prepared (default `output_dir/tfds`).
        verbose: Keras `fit` verbosity.

    Example (trains; see the module docstring):

        run_study(TrainConfig(image_size=128, epochs=1), ["default"], "/data/three", "runs/loso")
    """
    from magan_keras.training.run import train
    from tfds_brats.subjects import find_subjects

    found = {files.subject_id: str(files.folder) for files in find_subjects(data_dir)}
    splits = fold_splits(list(found))
    split_paths = write_split_files(splits, os.path.join(output_dir, "splits"))
    tfds_data_dir = tfds_data_dir or os.path.join(output_dir, "tfds")
    base = base.replace(data_dir=data_dir)
    plan = plan_runs(base, variants, list(splits), split_paths, output_dir, tfds_data_dir)
    results = {}
    for index, (variant, held, config, folder, finished) in enumerate(plan):
        result_path = os.path.join(folder, RESULT_FILE)
        train_ids = [s for s, split in splits[held].items() if split == "train"]
        if finished and os.path.isfile(result_path):
            print(f"[{index + 1}/{len(plan)}] {variant} held out {held}: finished earlier, reused", flush=True)
            with open(result_path) as f:
                results[(variant, held)] = json.load(f)
            continue
        seconds = None
        if not finished:
            print(f"[{index + 1}/{len(plan)}] {variant} held out {held}: training", flush=True)
            start = time.perf_counter()
            train(config, verbose=verbose)
            seconds = time.perf_counter() - start
        print(f"[{index + 1}/{len(plan)}] {variant} held out {held}: scoring", flush=True)
        result = score_fold(config, folder, data_dir, held, found[held], train_ids)
        result.update(
            held_out=held,
            variant=variant,
            train_ids=train_ids,
            folder=folder,
            seconds_training=seconds,
            steps=config.epochs * config.steps_per_epoch,
        )
        atomic.write_json(result_path, result)
        results[(variant, held)] = result
    for index, (variant, held, config, folder, _) in enumerate(plan):
        if variant not in THROUGH_PLANE_VARIANTS:
            continue
        path = os.path.join(folder, THROUGH_PLANE_FILE)
        if not (os.path.isfile(path) and os.path.isfile(os.path.join(folder, THROUGH_PLANE_CUTS))):
            print(f"[{index + 1}/{len(plan)}] {variant} held out {held}: scoring through the volume", flush=True)
            atomic.write_json(path, score_through_plane(config, folder, data_dir, held))
        with open(path) as f:
            results[(variant, held)]["through_plane"] = json.load(f)
    return results


def aggregate(results, variant="default"):
    """`{(target, method): {metric: (mean, std over folds, n)}}` of one variant's fold results.

    Args:
        results: from `run_study`.
        variant: str.

    Example:
    >>> from studies.real_loso import aggregate
    >>> rows = lambda v: [{"target": "t1", "method": "magan", "brain_ssim": v}]
    >>> results = {("default", "a"): {"rows": rows(0.5)}, ("default", "b"): {"rows": rows(0.7)}}
    >>> mean, std, n = aggregate(results)[("t1", "magan")]["brain_ssim"]
    >>> round(mean, 6), round(std, 4), n
    (0.6, 0.1414, 2)
    """
    values = {}
    for (name, _held), result in results.items():
        if name != variant:
            continue
        for row in result["rows"]:
            for metric in METRICS:
                if metric in row:
                    values.setdefault((row["target"], row["method"]), {}).setdefault(metric, []).append(row[metric])
    return {key: {m: volume_tables.mean_std(v) for m, v in metrics.items()} for key, metrics in values.items()}


def margins(results, variant="default", metric="brain_ssim"):
    """Per target: model minus the better baseline, per fold, and its mean ± std over folds.

    For MAE lower is better: the margin is the better baseline minus the model, so a positive
    margin is a model win for every metric.

    Args:
        results: from `run_study`.
        variant: str.
        metric: one of `METRICS`.

    Returns:
        dict target -> {"folds": {held_out: margin}, "mean", "std"}.

    Example:
    >>> from studies.real_loso import margins
    >>> rows = [{"target": "t1", "method": m, "brain_ssim": v} for m, v in
    ...         (("magan", 0.6), ("best_single", 0.5), ("linear", 0.55))]
    >>> round(margins({("default", "a"): {"rows": rows}})["t1"]["folds"]["a"], 4)
    0.05
    """
    lower_better = "mae" in metric
    out = {}
    for (name, held), result in results.items():
        if name != variant:
            continue
        by = {(r["target"], r["method"]): r[metric] for r in result["rows"]}
        for target in BRATS_MODALITIES:
            if (target, "magan") not in by:
                continue
            baselines = [by[(target, m)] for m in METHODS[1:] if (target, m) in by]
            best = min(baselines) if lower_better else max(baselines)
            margin = best - by[(target, "magan")] if lower_better else by[(target, "magan")] - best
            out.setdefault(target, {"folds": {}})["folds"][held] = float(margin)
    for entry in out.values():
        entry["mean"], entry["std"], _ = volume_tables.mean_std(list(entry["folds"].values()))
    return out


def _cell(mean, std, metric):
    digits = 2 if "psnr" in metric else 4 if "mae" in metric else 3
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def summary_table(table, methods=METHODS) -> list:
    """Markdown lines: a row per target and method, mean ± std over folds of each of `METRICS`.

    Example:
    >>> from studies.real_loso import METRICS, summary_table
    >>> table = {("t1", "magan"): {m: (0.5, 0.1, 3) for m in METRICS}}
    >>> summary_table(table)[2]
    '| t1 | magan | 0.500 ± 0.100 | 0.500 ± 0.100 | 0.50 ± 0.10 | 0.5000 ± 0.1000 | 0.500 ± 0.100 | 0.50 ± 0.10 |'
    """
    lines = [
        "| target | method | " + " | ".join(TITLES[m] for m in METRICS) + " |",
        "|---|---" + "|---" * len(METRICS) + "|",
    ]
    for target in BRATS_MODALITIES:
        for method in methods:
            entry = table.get((target, method))
            if entry is None:
                continue
            cells = [_cell(*entry.get(m, (float("nan"), float("nan"), 0))[:2], m) for m in METRICS]
            lines.append(f"| {target} | {method} | " + " | ".join(cells) + " |")
    return lines


def per_subject_table(results, variant="default", metrics=("brain_ssim", "brain_psnr", "slice_ssim")) -> list:
    """Markdown lines: per held-out subject and target, model / best single / linear for `metrics`.

    Example:
    >>> from studies.real_loso import per_subject_table
    >>> rows = [{"target": "t1", "method": m, "brain_ssim": v, "brain_psnr": 20.0, "slice_ssim": v}
    ...         for m, v in (("magan", 0.6), ("best_single", 0.5), ("linear", 0.55))]
    >>> per_subject_table({("default", "a"): {"rows": rows}})[2]
    '| a | t1 | **0.600** / 0.500 / 0.550 | 20.00 / 20.00 / 20.00 | **0.600** / 0.500 / 0.550 |'
    """
    lines = [
        "| held-out subject | target | "
        + " | ".join(f"{TITLES[m]}: model / best single / linear" for m in metrics)
        + " |",
        "|---|---" + "|---" * len(metrics) + "|",
    ]
    for (name, held), result in sorted(results.items()):
        if name != variant:
            continue
        by = {(r["target"], r["method"]): r for r in result["rows"]}
        for target in BRATS_MODALITIES:
            if (target, "magan") not in by:
                continue
            cells = []
            for metric in metrics:
                values = [by[(target, m)][metric] for m in METHODS]
                digits = 2 if "psnr" in metric else 3
                text = [f"{v:.{digits}f}" for v in values]
                best = min(values) if "mae" in metric else max(values)
                if values[0] == best and values.count(best) == 1:
                    text[0] = f"**{text[0]}**"
                cells.append(" / ".join(text))
            lines.append(f"| {held} | {target} | " + " | ".join(cells) + " |")
    return lines


def variant_table(results, variants, metrics=("brain_ssim", "brain_psnr", "slice_ssim")) -> list:
    """Markdown lines: the model's mean ± std over folds per variant and target, and training time.

    Example:
    >>> from studies.real_loso import variant_table
    >>> result = {"rows": [{"target": "t1", "method": "magan", "brain_ssim": 0.5, "brain_psnr": 20.0,
    ...           "slice_ssim": 0.5}], "seconds_training": 60.0}
    >>> variant_table({("default", "a"): result}, ["default"])[2]
    '| t1 | default | 0.500 ± 0.000 | 20.00 ± 0.00 | 0.500 ± 0.000 | 1.0 |'
    """
    lines = [
        "| target | variant | " + " | ".join(TITLES[m] for m in metrics) + " | training min per fold (mean) |",
        "|---|---" + "|---" * (len(metrics) + 1) + "|",
    ]
    for target in BRATS_MODALITIES:
        for variant in variants:
            table = aggregate(results, variant)
            entry = table.get((target, "magan"))
            if entry is None:
                continue
            seconds = [r["seconds_training"] for (v, _), r in results.items() if v == variant]
            seconds = [s for s in seconds if s is not None]
            minutes = f"{np.mean(seconds) / 60:.1f}" if seconds else "-"
            cells = [_cell(*entry[m][:2], m) for m in metrics]
            lines.append(f"| {target} | {variant} | " + " | ".join(cells) + f" | {minutes} |")
    return lines


def paired_differences(results, variant, metrics=("brain_ssim", "brain_psnr", "slice_ssim")) -> list:
    """Markdown lines: the model's `variant` minus `default` on the same fold, mean ± std over folds, per target.

    The folds differ far more from each other than the variants do on one fold, so a variant is
    read by its paired difference; "within the spread" means |mean| <= std.

    Example:
    >>> from studies.real_loso import paired_differences
    >>> rows = lambda v: [{"target": "t1", "method": "magan", "brain_ssim": v, "brain_psnr": 20.0, "slice_ssim": v}]
    >>> results = {("default", "a"): {"rows": rows(0.5)}, ("bfloat16", "a"): {"rows": rows(0.52)},
    ...            ("default", "b"): {"rows": rows(0.7)}, ("bfloat16", "b"): {"rows": rows(0.7)}}
    >>> paired_differences(results, "bfloat16")[2]
    '| t1 | bfloat16 - default | +0.010 ± 0.014 | +0.00 ± 0.00 | +0.010 ± 0.014 | 2 |'
    """
    lines = [
        "| target | difference | " + " | ".join(TITLES[m] for m in metrics) + " | folds |",
        "|---|---" + "|---" * (len(metrics) + 1) + "|",
    ]
    for target in BRATS_MODALITIES:
        differences = {m: [] for m in metrics}
        for (name, held), result in results.items():
            reference = results.get(("default", held))
            if name != variant or reference is None:
                continue
            mine = {r["method"]: r for r in result["rows"] if r["target"] == target}
            theirs = {r["method"]: r for r in reference["rows"] if r["target"] == target}
            if "magan" in mine and "magan" in theirs:
                for m in metrics:
                    differences[m].append(mine["magan"][m] - theirs["magan"][m])
        if not differences[metrics[0]]:
            continue
        cells = []
        for m in metrics:
            mean, std, _ = volume_tables.mean_std(differences[m])
            digits = 2 if "psnr" in m else 4 if "mae" in m else 3
            cells.append(f"{mean:+.{digits}f} ± {std:.{digits}f}")
        count = len(differences[metrics[0]])
        lines.append(f"| {target} | {variant} - default | " + " | ".join(cells) + f" | {count} |")
    return lines


def uncertainty_summary(results, variant="default") -> dict:
    """Per target: median Spearman rho (brain; tumour when a segmentation exists) over the held-out subjects,
    mean uncertainty per subject, and the threshold flagging the worst case (`studies.uncertainty`).

    Example:
    >>> from studies.real_loso import uncertainty_summary
    >>> case = lambda s, t, mae, u: {"source": "real", "subject": s, "target": t, "mae_brain": mae,
    ...                              "uncertainty_brain": u, "rho_brain": 0.2}
    >>> results = {("default", "a"): {"uncertainty": [case("a", "t1", 0.1, 0.05)]},
    ...            ("default", "b"): {"uncertainty": [case("b", "t1", 0.2, 0.04)]}}
    >>> summary = uncertainty_summary(results)
    >>> summary["real"]["flag"]["worst_cases"], summary["per_subject"]["a"]["t1"]["uncertainty_brain"]
    (['b/t1'], 0.05)
    """
    from studies.uncertainty import summarise

    rows = [row for (name, _), result in sorted(results.items()) if name == variant for row in result["uncertainty"]]
    summary = summarise(rows)
    summary["per_subject"] = {}
    for row in rows:
        summary["per_subject"].setdefault(row["subject"], {})[row["target"]] = {
            k: row[k] for k in ("uncertainty_brain", "mae_brain", "rho_brain") if k in row
        }
    return summary


def subject_figure(cuts, subject_id, path):
    """Truth | synthesis | error in the axial, coronal and sagittal planes, a row per target; a PNG.

    Args:
        cuts: the arrays of a fold's `real_loso_cuts.npz`.
        subject_id: str (the title).
        path: str. The PNG.
    """
    from matplotlib.figure import Figure

    planes = ("axial", "coronal", "sagittal")
    fig = Figure(figsize=(13.5, 6.4))
    axes = fig.subplots(len(BRATS_MODALITIES), 9, squeeze=False)
    for row, target in enumerate(BRATS_MODALITIES):
        for p, plane in enumerate(planes):
            for c, (name, cmap, vmax) in enumerate(
                (("truth", "gray", 1.0), ("synthesis", "gray", 1.0), ("error", "magma", 0.3))
            ):
                ax = axes[row, 3 * p + c]
                ax.imshow(np.asarray(cuts[f"{target}/{name}/{plane}"], np.float32), cmap=cmap, vmin=0.0, vmax=vmax)
                ax.set_title(f"{target} {plane} {name}", fontsize=6)
                ax.axis("off")
    fig.suptitle(f"{subject_id} held out: truth | synthesis | |error| (0-0.3), unit scale", fontsize=8)
    fig.tight_layout()
    return atomic.save_figure(fig, path, dpi=80)


def variant_figure(variant_cuts, subject_id, path, plane="axial"):
    """Truth, then each variant's synthesis, of one held-out subject in one plane, a row per target; a PNG.

    The same cut through every variant's synthesis (the cut's centre is the brain's, which does
    not depend on the model), so blur and missing detail compare side by side.

    Args:
        variant_cuts: dict variant -> the arrays of that variant's `real_loso_cuts.npz` for this fold
            (in the column order wanted; the truth is taken from the first).
        subject_id: str (the title).
        path: str. The PNG.
        plane: "axial", "coronal" or "sagittal".
    """
    from matplotlib.figure import Figure

    names = list(variant_cuts)
    first = variant_cuts[names[0]]
    fig = Figure(figsize=(2.0 * (len(names) + 1), 2.1 * len(BRATS_MODALITIES)))
    axes = fig.subplots(len(BRATS_MODALITIES), len(names) + 1, squeeze=False)
    for row, target in enumerate(BRATS_MODALITIES):
        panels = [("truth", first[f"{target}/truth/{plane}"])]
        panels += [(name, variant_cuts[name][f"{target}/synthesis/{plane}"]) for name in names]
        for column, (title, cut) in enumerate(panels):
            ax = axes[row, column]
            ax.imshow(np.asarray(cut, np.float32), cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_title(f"{target} {title}", fontsize=7)
            ax.axis("off")
    fig.suptitle(f"{subject_id} held out, {plane}: truth and each variant's synthesis, unit scale", fontsize=8)
    fig.tight_layout()
    return atomic.save_figure(fig, path, dpi=100)


def uncertainty_figure(fold_cuts, path):
    """|error| and uncertainty (axial) per held-out subject (rows) and target (column pairs); a PNG.

    Args:
        fold_cuts: dict subject id -> the arrays of its fold's `real_loso_cuts.npz`.
        path: str.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13.5, 2.0 * len(fold_cuts)))
    axes = fig.subplots(len(fold_cuts), 2 * len(BRATS_MODALITIES), squeeze=False)
    for row, (subject_id, cuts) in enumerate(sorted(fold_cuts.items())):
        for k, target in enumerate(BRATS_MODALITIES):
            for c, (name, vmax) in enumerate((("error", 0.3), ("spread", 0.15))):
                ax = axes[row, 2 * k + c]
                ax.imshow(np.asarray(cuts[f"{target}/{name}/axial"], np.float32), cmap="magma", vmin=0.0, vmax=vmax)
                ax.set_title(f"{subject_id} {target} {'|error|' if name == 'error' else 'uncertainty'}", fontsize=6)
                ax.axis("off")
    fig.suptitle("real subjects, leave one out: |error| (0-0.3) and uncertainty (0-0.15), axial", fontsize=8)
    fig.tight_layout()
    return atomic.save_figure(fig, path, dpi=80)


def _through_plane_values(results):
    """`{(variant, fusion, target): {held_out: row}}` of the folds scored through the volume."""
    values = {}
    for (variant, held), result in results.items():
        for row in result.get("through_plane", {}).get("rows", []):
            values.setdefault((variant, row["fusion"], row["target"]), {})[held] = row
    return values


def _through_plane_seconds(results):
    """`{(variant, fusion): [seconds per fold]}` of the folds scored through the volume."""
    seconds = {}
    for (variant, _), result in results.items():
        for fusion, value in result.get("through_plane", {}).get("seconds", {}).items():
            seconds.setdefault((variant, fusion), []).append(value)
    return seconds


def through_plane_figure(variant_cuts, subject_id, path, target=THROUGH_PLANE_CUT_TARGET):
    """Coronal and sagittal cuts of one held-out subject: truth, each variant and fusion, and its |error|; a PNG.

    Args:
        variant_cuts: dict variant -> the arrays of that variant's `real_loso_through_plane_cuts.npz`
            for this fold (column order; the truth is taken from the first).
        subject_id: str (the title).
        path: str. The PNG.
        target: str. The contrast the cuts are of (the title).
    """
    from matplotlib.figure import Figure

    columns = [(v, f) for v in variant_cuts for f in FUSIONS if f"{f}/coronal" in variant_cuts[v]]
    first = variant_cuts[next(iter(variant_cuts))]
    fig = Figure(figsize=(1.7 * (len(columns) + 1), 7.2))
    axes = fig.subplots(4, len(columns) + 1, squeeze=False)
    for p, plane in enumerate(("coronal", "sagittal")):
        for kind in (0, 1):
            ax = axes[2 * p + kind, 0]
            if kind == 0:
                ax.imshow(np.asarray(first[f"truth/{plane}"], np.float32), cmap="gray", vmin=0.0, vmax=1.0)
                ax.set_title(f"{plane} truth", fontsize=6)
            ax.axis("off")
            for c, (variant, fusion) in enumerate(columns):
                ax = axes[2 * p + kind, c + 1]
                name = fusion if kind == 0 else f"{fusion}_error"
                ax.imshow(
                    np.asarray(variant_cuts[variant][f"{name}/{plane}"], np.float32),
                    cmap="gray" if kind == 0 else "magma",
                    vmin=0.0,
                    vmax=1.0 if kind == 0 else 0.3,
                )
                ax.set_title(f"{plane} {variant} {fusion}{' |error|' if kind else ''}", fontsize=6)
                ax.axis("off")
    fig.suptitle(
        f"{subject_id} held out, {target}: coronal and sagittal cuts, truth, each model synthesised axially "
        "and fused over 3 planes, |error| (0-0.3)",
        fontsize=8,
    )
    fig.tight_layout()
    return atomic.save_figure(fig, path, dpi=100)


def replace_section(text, section) -> str:
    """`text` with the part between `SECTION_START` and `SECTION_END` replaced (`studies.outputs.replace_section`).

    Example:
    >>> from studies.real_loso import SECTION_END, SECTION_START, replace_section
    >>> page = replace_section("# page\\n", "new")
    >>> replace_section(page, "newer").count("newer"), SECTION_START in page
    (1, True)
    """
    from studies.outputs import replace_section as replace

    return replace(text, section, SECTION_START, SECTION_END)


def section_markdown(results, variants, base, command, figures) -> str:
    """The generated part of the page: configuration, times, tables (no discussion)."""
    default = {k: r for k, r in results.items() if k[0] == "default"}
    seconds = [r["seconds_training"] for r in default.values() if r["seconds_training"] is not None]
    steps = base.epochs * base.steps_per_epoch
    lines = [
        "Produced by:",
        "",
        f"```bash\n{command}\n```",
        "",
        f"Each fold: {base.image_size} px, {base.epochs} x {base.steps_per_epoch} = {steps} steps of batch "
        f"{base.batch_size}, {base.precision}, every other option the training default, validation empty. "
        "Training wall "
        "time per fold (s): "
        + ", ".join(
            f"{held} {r['seconds_training']:.0f}" if r["seconds_training"] is not None else f"{held} (reused)"
            for (_, held), r in sorted(default.items())
        )
        + (f"; total {sum(seconds) / 60:.1f} min." if seconds else "."),
        "",
        "Mean ± standard deviation over the folds (one held-out subject each), scored on the scan's "
        "240 x 240 x 155 grid. The subjects have no segmentation: the challenge score is its "
        "non-tumour SSIM over the whole volume (background included), and there are no tumour scores.",
        "",
        *summary_table(aggregate(results, "default")),
        "",
        "Per held-out subject (bold: the model is the best of the three):",
        "",
        *per_subject_table(results, "default"),
        "",
        "Model minus the better baseline, mean ± std over folds (positive: the model wins):",
        "",
        "| target | brain SSIM | brain PSNR | slice SSIM | slice PSNR |",
        "|---|---|---|---|---|",
    ]
    margin = {m: margins(results, "default", m) for m in ("brain_ssim", "brain_psnr", "slice_ssim", "slice_psnr")}
    for target in BRATS_MODALITIES:
        if target in margin["brain_ssim"]:
            cells = [_cell(margin[m][target]["mean"], margin[m][target]["std"], m) for m in margin]
            lines.append(f"| {target} | " + " | ".join(cells) + " |")
    lines.append("")
    if len(variants) > 1:
        lines += ["The defaults checked on real data (the model's scores, same folds and budget):", ""]
        lines += variant_table(results, variants)
        lines += ["", "Each variant minus the default on the same fold (mean ± std over folds):", ""]
        for variant in variants[1:]:
            lines += paired_differences(results, variant)[0 if variant == variants[1] else 2 :]
        lines.append("")
    through = [v for v in variants if any("through_plane" in r for (name, _), r in results.items() if name == v)]
    if through:
        lines += [
            "Through the volume: each model synthesised along the axial slices and fused over the axial, "
            "coronal and sagittal planes (`evaluate --planes axial,coronal,sagittal`), the model only. "
            "Slice SSIM per orientation inside the brain and the roughness (mean absolute second "
            "difference of the synthesis over that of the truth, inside the brain; stripes between "
            "axial slices show as roughness z above roughness in-plane). The time is synthesis and "
            "scoring of the four targets on the loaded 2-core CPU: read it as a ratio.",
            "",
            *volume_tables.score_table(
                _through_plane_values(results), through, through_plane_scores(), _through_plane_seconds(results)
            ),
            "",
            "Minus the default model's axial synthesis on the same fold (mean ± std over folds):",
            "",
            *volume_tables.paired_table(_through_plane_values(results), through, ("default", "axial")),
            "",
        ]
    lines += [f"![{os.path.basename(f)}]({f})" for f in figures]
    return "\n".join(lines)


def main(argv=None):
    """Runs the study; returns the exit code (0, or 2 on a bad option or a differing finished run).

    Args:
        argv: list of str, or None for `sys.argv[1:]`.

    Example (trains every fold; see the module docstring):

        main(["--data-dir", "/data/three", "--epochs", "1", "--output-dir", "runs/try"])
    """
    from magan_keras.training.config import TrainConfig
    from magan_keras.training.run import RunFolderError

    parser = argparse.ArgumentParser(prog="python -m studies.real_loso", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="folder of BraTS-named subjects (one fold each)")
    parser.add_argument("--output-dir", default="runs/real_loso")
    parser.add_argument("--tfds-data-dir", default=None, help="where the folds are prepared (OUTPUT_DIR/tfds)")
    parser.add_argument("--variants", nargs="+", default=["default"], choices=list(VARIANTS))
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps-per-epoch", type=int, default=80)
    parser.add_argument("--results-page", default=None, help="markdown page whose real_loso section is rewritten")
    parser.add_argument("--figure-dir", default=None, help="PNG folder (default: figures/ beside the page)")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.data_dir):
        parser.error(f"--data-dir {args.data_dir!r} is not a folder")
    try:
        base = TrainConfig(
            data_dir=args.data_dir,
            image_size=args.image_size,
            epochs=args.epochs,
            steps_per_epoch=args.steps_per_epoch,
            precision="float32",  # on every machine; the bfloat16 variant measures bfloat16
        )
    except ValueError as error:
        parser.error(str(error))
    if "default" not in args.variants:  # every variant is read against the default; its runs are reused
        print("note: --variants without default: the default runs too, as the reference", file=sys.stderr)
    args.variants = ["default"] + [v for v in dict.fromkeys(args.variants) if v != "default"]
    try:
        results = run_study(base, args.variants, args.data_dir, args.output_dir, args.tfds_data_dir)
    except (RunFolderError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    page = args.results_page or os.path.join(args.output_dir, "results.md")
    figure_dir = args.figure_dir or os.path.join(os.path.dirname(os.path.abspath(page)), "figures")
    figures, fold_cuts = [], {}
    for (variant, held), result in sorted(results.items()):
        if variant != "default":
            continue
        with np.load(os.path.join(result["folder"], CUTS_FILE)) as data:
            fold_cuts[held] = {k: data[k] for k in data.files}
        figures.append(str(subject_figure(fold_cuts[held], held, os.path.join(figure_dir, f"real_loso_{held}.png"))))
    if len(args.variants) > 1:  # every variant's synthesis of the same cut, per fold
        for held in sorted(fold_cuts):
            variant_cuts = {}
            for variant in args.variants:
                with np.load(os.path.join(results[(variant, held)]["folder"], CUTS_FILE)) as data:
                    variant_cuts[variant] = {k: data[k] for k in data.files}
            path = os.path.join(figure_dir, f"real_loso_variants_{held}.png")
            figures.append(str(variant_figure(variant_cuts, held, path)))
    through = [v for v in args.variants if v in THROUGH_PLANE_VARIANTS]
    for held in sorted(fold_cuts):
        if len(through) > 0:
            variant_cuts = {}
            for variant in through:
                with np.load(os.path.join(results[(variant, held)]["folder"], THROUGH_PLANE_CUTS)) as data:
                    variant_cuts[variant] = {k: data[k] for k in data.files}
            path = os.path.join(figure_dir, f"real_loso_through_plane_{held}.png")
            figures.append(str(through_plane_figure(variant_cuts, held, path)))
    figures.append(str(uncertainty_figure(fold_cuts, os.path.join(figure_dir, "real_loso_uncertainty.png"))))
    summary = uncertainty_summary(results, "default")
    atomic.write_json(os.path.join(args.output_dir, "uncertainty_summary.json"), summary)
    relative = [os.path.relpath(f, os.path.dirname(os.path.abspath(page))) for f in figures]
    command = "python -m studies.real_loso " + " ".join(argv if argv is not None else sys.argv[1:])
    section = section_markdown(results, args.variants, base, command, relative[:-1])
    text = open(page, encoding="utf-8").read() if os.path.isfile(page) else ""
    atomic.write_text(page, replace_section(text, section))
    atomic.write_json(
        os.path.join(args.output_dir, "summary.json"),
        {variant: {f"{t}/{m}": v for (t, m), v in aggregate(results, variant).items()} for variant in args.variants},
    )
    print(f"results page: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
