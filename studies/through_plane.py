"""`python -m studies.through_plane`: 2-D, 2.5-D and multi-planar synthesis on the phantom, over seeds.

Trains every variant x seed through the one training path (`studies.ablation.run_study` with
this study's `VARIANTS`: each run folder is a normal run folder) at the training defaults (the
README budget unless options are given), then scores each run's test subjects twice with
`evaluate_model`, as `python -m magan_keras.evaluate --planes` does: synthesised along the axial
slices, and fused over the axial, coronal and sagittal planes (`studies.volume_tables.FUSIONS`).
The scores (`SCORES`: the challenge's 3-D SSIM outside and inside the tumour, brain SSIM, slice
SSIM in the coronal and sagittal planes, the roughness along z and in-plane of
`magan_keras.evaluation.through_plane`) are each run's mean over its test subjects, kept in
`through_plane.json` in the run folder; the page section (`--results-page`) gives their mean ±
std over seeds and each row minus the 2-D model's axial synthesis of the same seed. As in
`studies.ablation`, the runs are float32 unless `--precision` is given.

Variants: `2d` (the training default), `context_1` and `context_2` (`context_slices` K = 1, 2:
2.5-D), `planes` (`planes="axial,coronal,sagittal"`: one model trained on slices of all three
orientations), `planes_context_1` (both together) and `per_plane` (one model per orientation:
the `2d` run for the axial slices, `coronal_only` and `sagittal_only` runs, trained with
`planes="coronal"` and `"sagittal"`, for theirs; fused only, as `evaluate --planes
axial,coronal,sagittal --plane-model coronal=... --plane-model sagittal=...` does, and costing
the three runs' training time) and `planes_3x` (`planes` trained for three times the epochs:
one model on all three orientations for the training time of `per_plane`'s three models).

    python -m studies.through_plane --seeds 0 1 2 --variants 2d planes \\
        --output-dir runs/through_plane --results-page docs/results.md

Example:
>>> from studies.through_plane import VARIANTS
>>> VARIANTS["planes_context_1"]
{'planes': 'axial,coronal,sagittal', 'context_slices': 1}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from magan_keras import atomic
from studies import volume_tables

VARIANTS = {
    "2d": {},
    "context_1": {"context_slices": 1},
    "context_2": {"context_slices": 2},
    "planes": {"planes": "axial,coronal,sagittal"},
    "planes_context_1": {"planes": "axial,coronal,sagittal", "context_slices": 1},
    "coronal_only": {"planes": "coronal"},
    "sagittal_only": {"planes": "sagittal"},
}
TIMES_LONGER = {"planes_3x": ("planes", 3)}  # variant -> (the variant it trains longer, epochs factor)
PER_PLANE = "per_plane"  # not a run: the 2d run and the two runs below, one model per orientation
PLANE_RUNS = {"coronal": "coronal_only", "sagittal": "sagittal_only"}
SCORES = (
    "challenge_ssim_non_tumour",
    "challenge_ssim_tumour",
    "brain_ssim",
    "plane_ssim_coronal",
    "plane_ssim_sagittal",
    "roughness_z",
    "roughness_inplane",
)
PAIRED = ("challenge_ssim_non_tumour", "challenge_ssim_tumour", "brain_ssim", "plane_ssim_sagittal", "roughness_z")
SCORE_FILE = "through_plane.json"
SECTION_START = "<!-- studies.through_plane: start -->"
SECTION_END = "<!-- studies.through_plane: end -->"


def study_options(base) -> dict:
    """Each run variant's `TrainConfig` fields: `VARIANTS`, and `TIMES_LONGER` at a multiple of `base.epochs`.

    Args:
        base: `TrainConfig` every run starts from.

    Example:
    >>> from magan_keras.training.config import TrainConfig
    >>> from studies.through_plane import study_options
    >>> study_options(TrainConfig(epochs=8))["planes_3x"]
    {'planes': 'axial,coronal,sagittal', 'epochs': 24}
    """
    options = dict(VARIANTS)
    for variant, (like, factor) in TIMES_LONGER.items():
        options[variant] = {**VARIANTS[like], "epochs": factor * base.epochs}
    return options


def score_run(config, folder, plane_folders=None) -> dict:
    """Scores a finished run's test subjects synthesised axially and fused over three planes.

    Args:
        config: the run's `TrainConfig` (its prepared data is opened, not prepared again).
        folder: str. The finished run folder.
        plane_folders: dict plane -> finished run folder, or None. When given, each of those
            planes is synthesised by that run's model (`PlaneModels`), the rest by `folder`'s,
            and only the fused synthesis is scored.

    Returns:
        dict: `scores` (`"fusion/target"` -> {score: mean over the test subjects}) and `seconds`
        (per fusion: synthesis and scoring of every test subject and target).
    """
    from magan_keras.evaluation.evaluate import evaluate_model
    from magan_keras.inference.generator import load_generator
    from magan_keras.inference.planes import PlaneModels
    from magan_keras.training.run import held_out_split, load_splits

    generator = load_generator(os.path.join(folder, "model.keras"))
    fusions = volume_tables.FUSIONS
    if plane_folders:
        models = {plane: os.path.join(f, "model.keras") for plane, f in plane_folders.items()}
        generator = PlaneModels(generator, models)
        fusions = {"fused": fusions["fused"]}
    split = held_out_split(load_splits(config))
    out = {"scores": {}, "seconds": {}}
    for fusion, planes in fusions.items():
        start = time.perf_counter()
        results = evaluate_model(generator, split, batch_size=config.batch_size, planes=planes)
        out["seconds"][fusion] = time.perf_counter() - start
        for entry in results.summary():
            if entry["method"] == "magan":
                out["scores"][f"{fusion}/{entry['target']}"] = {m: entry[f"{m}_mean"] for m in SCORES}
    return out


def score_study(folders, configs, output_dir) -> dict:
    """Scores every run not scored yet (`through_plane.json` beside it); returns `{(variant, seed): scores}`.

    The `PLANE_RUNS` are not scored alone: where a seed has both and its `2d` run, the three are
    scored together as `(PER_PLANE, seed)`, kept in `output_dir/per_plane/seed{N}/through_plane.json`.
    """
    results = {}
    alone = {key: folder for key, folder in folders.items() if key[0] not in PLANE_RUNS.values()}
    for index, (key, folder) in enumerate(sorted(alone.items())):
        path = os.path.join(folder, SCORE_FILE)
        if not os.path.isfile(path):
            print(f"[{index + 1}/{len(alone)}] {key[0]} seed {key[1]}: scoring through the volume", flush=True)
            atomic.write_json(path, score_run(configs[key], folder))
        with open(path) as f:
            results[key] = json.load(f)
    for seed in sorted({seed for _, seed in folders}):
        plane_folders = {plane: folders.get((variant, seed)) for plane, variant in PLANE_RUNS.items()}
        if ("2d", seed) not in folders or None in plane_folders.values():
            continue
        path = os.path.join(output_dir, PER_PLANE, f"seed{seed}", SCORE_FILE)
        if not os.path.isfile(path):
            print(f"{PER_PLANE} seed {seed}: scoring the 2d, coronal_only and sagittal_only models fused", flush=True)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic.write_json(path, score_run(configs[("2d", seed)], folders[("2d", seed)], plane_folders))
        with open(path) as f:
            results[(PER_PLANE, seed)] = json.load(f)
    return results


def training_variants(variants) -> list:
    """The runs `variants` need: `per_plane` is the `2d` run and the `PLANE_RUNS`.

    Example:
    >>> from studies.through_plane import training_variants
    >>> training_variants(["2d", "per_plane", "planes"])
    ['2d', 'coronal_only', 'sagittal_only', 'planes']
    """
    runs = []
    for variant in variants:
        for run in ["2d", *PLANE_RUNS.values()] if variant == PER_PLANE else [variant]:
            if run not in runs:
                runs.append(run)
    return runs


def per_plane_seconds(train_seconds) -> dict:
    """`{(PER_PLANE, seed): seconds}`: the sum of its three runs' training, where all three trained here.

    Example:
    >>> from studies.through_plane import per_plane_seconds
    >>> per_plane_seconds({("2d", 0): 300.0, ("coronal_only", 0): 200.0, ("sagittal_only", 0): 250.0, ("2d", 1): 1})
    {('per_plane', 0): 750.0}
    """
    out = {}
    for seed in sorted({seed for _, seed in train_seconds}):
        parts = [train_seconds.get((run, seed)) for run in ["2d", *PLANE_RUNS.values()]]
        if None not in parts:
            out[(PER_PLANE, seed)] = float(sum(parts))
    return out


def table_values(results):
    """`{(variant, fusion, target): {seed: scores}}` for `studies.volume_tables`.

    Example:
    >>> from studies.through_plane import table_values
    >>> table_values({("2d", 0): {"scores": {"fused/t1": {"brain_ssim": 0.5}}}})
    {('2d', 'fused', 't1'): {0: {'brain_ssim': 0.5}}}
    """
    values = {}
    for (variant, seed), result in results.items():
        for key, scores in result["scores"].items():
            fusion, target = key.split("/")
            values.setdefault((variant, fusion, target), {})[seed] = scores
    return values


def section_markdown(results, variants, seeds, base, command, train_seconds) -> str:
    """The generated section: the command, the budget, the score table and the paired differences."""
    seconds = {}
    for (variant, _), result in results.items():
        for fusion, value in result["seconds"].items():
            seconds.setdefault((variant, fusion), []).append(value)
    values = table_values(results)
    timing = ", ".join(
        f"{v} {sum(s) / len(s):.0f}"
        for v in [*training_variants(variants), *([PER_PLANE] if PER_PLANE in variants else [])]
        if (s := [t for (w, _), t in train_seconds.items() if w == v])
    )
    return "\n".join(
        [
            "Produced by:",
            "",
            f"```bash\n{command}\n```",
            "",
            f"Each run: the phantom at {base.image_size} px, {base.epochs} x {base.steps_per_epoch} steps of batch "
            f"{base.batch_size}, seeds {list(seeds)}"
            + "".join(
                f"; {v} {factor}x the epochs ({factor * base.epochs} x {base.steps_per_epoch})"
                for v, (_, factor) in TIMES_LONGER.items()
                if v in variants
            )
            + "; every other option the training default. Scores are each "
            "run's mean over its test subjects; cells are mean ± std over the seeds. Training seconds per run "
            f"(mean, this session's runs, on the shared 2-core CPU): {timing or 'runs reused'}.",
            "",
            *volume_tables.score_table(values, variants, SCORES, seconds),
            "",
            "Minus the 2-D model's axial synthesis of the same seed (mean ± std over seeds):",
            "",
            *volume_tables.paired_table(
                values,
                variants,
                ("2d", "axial"),
                PAIRED,
            ),
        ]
    )


def main(argv=None):
    """Runs the study; returns the exit code (0, or 2 when a finished run differs).

    Args:
        argv: list of str, or None for `sys.argv[1:]`.

    Example (trains every run; see the module docstring):

        main(["--seeds", "0", "--variants", "2d", "--epochs", "1", "--output-dir", "runs/try"])
    """
    from magan_keras.cli.train import add_config_options, config_from_args
    from magan_keras.training.config import TrainConfig
    from magan_keras.training.run import RunFolderError
    from studies.ablation import run_study, variant_config
    from studies.outputs import replace_section

    parser = argparse.ArgumentParser(prog="python -m studies.through_plane", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="TOML or JSON file of training options")
    choices = [v for v in [*VARIANTS, *TIMES_LONGER] if v not in PLANE_RUNS.values()] + [PER_PLANE]
    parser.add_argument("--variants", nargs="+", default=choices, choices=choices)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--results-page", default=None, help="markdown page whose section is rewritten")
    fields = [f for f in TrainConfig.field_names() if f not in ("seed", "overwrite", "planes", "context_slices")]
    add_config_options(parser, fields=fields)
    args = parser.parse_args(argv)
    if args.output_dir is None:
        args.output_dir = "runs/through_plane"
    if args.precision is None:  # float32 on every machine, so the tables compare (not "auto"; see module doc)
        args.precision = "float32"
    study = {k: getattr(args, k) for k in ("variants", "seeds", "results_page")}
    for key in study:
        delattr(args, key)
    variants = ["2d"] + [v for v in dict.fromkeys(study["variants"]) if v != "2d"]  # the reference always runs
    try:
        base = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    output_dir = base.output_dir
    options = study_options(base)
    start = time.perf_counter()
    train_seconds = {}
    try:  # every run is checked before the first one trains
        folders = run_study(
            base, training_variants(variants), study["seeds"], output_dir, options=options, timings=train_seconds
        )
    except RunFolderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    configs = {key: variant_config(base, key[0], key[1], output_dir, options) for key in folders}
    results = score_study(folders, configs, output_dir)
    train_seconds.update(per_plane_seconds(train_seconds))
    command = "python -m studies.through_plane " + " ".join(argv if argv is not None else sys.argv[1:])
    section = section_markdown(results, variants, study["seeds"], base, command, train_seconds)
    page = study["results_page"] or os.path.join(output_dir, "results.md")
    text = open(page, encoding="utf-8").read() if os.path.isfile(page) else ""
    atomic.write_text(page, replace_section(text, section, SECTION_START, SECTION_END))
    print(f"results page: {page} ({(time.perf_counter() - start) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
