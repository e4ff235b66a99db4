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
std over seeds and each row minus the 2-D model's axial synthesis of the same seed.

Variants: `2d` (the training default), `context_1` and `context_2` (`context_slices` K = 1, 2:
2.5-D), `planes` (`planes="axial,coronal,sagittal"`: one model trained on slices of all three
orientations) and `planes_context_1` (both together).

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
}
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


def score_run(config, folder) -> dict:
    """Scores a finished run's test subjects synthesised axially and fused over three planes.

    Args:
        config: the run's `TrainConfig` (its prepared data is opened, not prepared again).
        folder: str. The finished run folder.

    Returns:
        dict: `scores` (`"fusion/target"` -> {score: mean over the test subjects}) and `seconds`
        (per fusion: synthesis and scoring of every test subject and target).
    """
    from magan_keras.evaluation.evaluate import evaluate_model
    from magan_keras.inference.generator import load_generator
    from magan_keras.training.run import held_out_split, load_splits

    generator = load_generator(os.path.join(folder, "model.keras"))
    split = held_out_split(load_splits(config))
    out = {"scores": {}, "seconds": {}}
    for fusion, planes in volume_tables.FUSIONS.items():
        start = time.perf_counter()
        results = evaluate_model(generator, split, batch_size=config.batch_size, planes=planes)
        out["seconds"][fusion] = time.perf_counter() - start
        for entry in results.summary():
            if entry["method"] == "magan":
                out["scores"][f"{fusion}/{entry['target']}"] = {m: entry[f"{m}_mean"] for m in SCORES}
    return out


def score_study(folders, configs) -> dict:
    """Scores every run not scored yet (`through_plane.json` beside it); returns `{(variant, seed): scores}`."""
    results = {}
    for index, (key, folder) in enumerate(sorted(folders.items())):
        path = os.path.join(folder, SCORE_FILE)
        if not os.path.isfile(path):
            print(f"[{index + 1}/{len(folders)}] {key[0]} seed {key[1]}: scoring through the volume", flush=True)
            atomic.write_json(path, score_run(configs[key], folder))
        with open(path) as f:
            results[key] = json.load(f)
    return results


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
        f"{v} {sum(s) / len(s):.0f}" for v in variants if (s := [t for (w, _), t in train_seconds.items() if w == v])
    )
    return "\n".join(
        [
            "Produced by:",
            "",
            f"```bash\n{command}\n```",
            "",
            f"Each run: the phantom at {base.image_size} px, {base.epochs} x {base.steps_per_epoch} steps of batch "
            f"{base.batch_size}, seeds {list(seeds)}; every other option the training default. Scores are each "
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
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--results-page", default=None, help="markdown page whose section is rewritten")
    fields = [f for f in TrainConfig.field_names() if f not in ("seed", "overwrite", "planes", "context_slices")]
    add_config_options(parser, fields=fields)
    args = parser.parse_args(argv)
    if args.output_dir is None:
        args.output_dir = "runs/through_plane"
    study = {k: getattr(args, k) for k in ("variants", "seeds", "results_page")}
    for key in study:
        delattr(args, key)
    variants = ["2d"] + [v for v in dict.fromkeys(study["variants"]) if v != "2d"]  # the reference always runs
    try:
        base = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    output_dir = base.output_dir
    start = time.perf_counter()
    train_seconds = {}
    try:  # every run is checked before the first one trains
        folders = run_study(base, variants, study["seeds"], output_dir, options=VARIANTS, timings=train_seconds)
    except RunFolderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    configs = {key: variant_config(base, key[0], key[1], output_dir, VARIANTS) for key in folders}
    results = score_study(folders, configs)
    command = "python -m studies.through_plane " + " ".join(argv if argv is not None else sys.argv[1:])
    section = section_markdown(results, variants, study["seeds"], base, command, train_seconds)
    page = study["results_page"] or os.path.join(output_dir, "results.md")
    text = open(page, encoding="utf-8").read() if os.path.isfile(page) else ""
    atomic.write_text(page, replace_section(text, section, SECTION_START, SECTION_END))
    print(f"results page: {page} ({(time.perf_counter() - start) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
