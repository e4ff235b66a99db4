"""The model card (`README.md`) of a preset, written from the run that trained it.

`run_record(run_dir)` reads what a training run left in its folder (`config.json`,
`test_metrics.json`, `evaluation/summary.csv`, as `magan_keras.training.run` writes them);
`model_card(metadata, record)` turns that and the preset's `metadata.json` into markdown with a
Hugging Face front matter: the data and splits, the configuration, the test scores per contrast
with the protocol named, the baselines, intended use, "not for clinical use", licence and
citation. Nothing is invented: a section whose source file is missing says so.

Example:
>>> from magan_keras.sharing import card
>>> metadata = {"modalities": ["t1", "t2"], "image_size": 16, "canvas_size": 16,
...             "versions": {"magan_keras": "0.1.0", "keras": "3.15.1"}, "training_data": None}
>>> text = card.model_card(metadata, card.run_record(None))
>>> "Not for clinical use" in text, "no run folder was given" in text
(True, True)
"""

from __future__ import annotations

import csv
import json
import pathlib

import tfds_brats
from magan_keras.evaluation.results import METRIC_TITLES, METRICS, MODEL_METHOD

CARD_FILE = "README.md"
LICENCE = "apache-2.0"
# How each evaluation column family was computed (README "Evaluating", magan_keras.evaluation).
PROTOCOLS = {
    "challenge": "BraSyn challenge protocol: the organisers' 3-D SSIM on each whole test volume (tumour-masked "
    "and non-tumour volumes, each clipped to its own 0.5/99.5 percentiles and scaled to [0, 1])",
    "brain": "brain protocol: per 3-D volume, prediction and truth each clipped to their own 0.5/99.5 "
    "percentiles and scaled to [0, 1]; SSIM (Gaussian window 11, sigma 1.5), PSNR and MAE over the brain, "
    "the tumour and the non-tumour brain",
    "slice": "per-slice protocol: [-1, 1] mapped to [0, 1]; PSNR, SSIM and MAE inside the brain per axial slice, "
    "averaged over each subject's slices",
}
BASELINES = {
    "best_single": "the best single available contrast after intensity matching (fitted on the training split)",
    "linear": "a voxel-wise linear regression from the available contrasts (fitted on the training split)",
}
PAPER_CITATION = """@article{magan,
  title = {Joint Attention {GAN} for Multimodal Image Translation},
  note  = {MA-GAN, the architecture this model implements}
}

@software{magan_keras,
  title = {magan\\_keras: {MA-GAN} in Keras 3},
  note  = {the implementation that trained this model; its README says where it differs from the paper}
}"""
BRATS_CITATIONS = pathlib.Path(tfds_brats.__file__).resolve().parent / "brats" / "CITATIONS.bib"


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _read_summary(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return None


def run_record(run_dir) -> dict:
    """What a run folder says about the model: its training config, fit's test metrics, the evaluation summary.

    Args:
        run_dir: a training run's folder (`runs/magan/...`), or None (a model saved by hand).

    Returns:
        dict with `run_dir`, `config` (dict or None), `test_metrics` (`{contrast: {metric: value}}`
        or None) and `evaluation` (rows of `evaluation/summary.csv`, or None).

    Example:
    >>> run_record(None)["config"] is None
    True
    """
    if run_dir is None:
        return {"run_dir": None, "config": None, "test_metrics": None, "evaluation": None}
    run_dir = pathlib.Path(run_dir)
    return {
        "run_dir": str(run_dir),
        "config": _read_json(run_dir / "config.json"),
        "test_metrics": _read_json(run_dir / "test_metrics.json"),
        "evaluation": _read_summary(run_dir / "evaluation" / "summary.csv"),
    }


def _number(text, digits):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return "–"
    return "–" if value != value else f"{value:.{digits}f}"


def _digits(metric):
    return 2 if "psnr" in metric else 4


def _evaluation_lines(rows, modalities):
    lines = []
    families = dict.fromkeys(metric.split("_")[0] for metric in METRICS)  # in METRICS' order
    for family in families:
        protocol = PROTOCOLS.get(family, f"{family} metrics")
        metrics = [m for m in METRICS if m.split("_")[0] == family]
        lines += ["", f"**{protocol}.** Mean ± standard deviation over the test subjects (n).", ""]
        lines.append("| target | method | n | " + " | ".join(METRIC_TITLES[m] for m in metrics) + " |")
        lines.append("|" + "---|" * (3 + len(metrics)))
        order = {name: i for i, name in enumerate(modalities)}
        methods = [MODEL_METHOD, *BASELINES]
        rows = sorted(
            rows,
            key=lambda r: (
                order.get(r.get("target"), 99),
                methods.index(r["method"]) if r.get("method") in methods else 9,
            ),
        )
        for row in rows:
            cells = [row.get("target", "?"), row.get("method", "?"), row.get("n", "?")]
            for metric in metrics:
                mean = _number(row.get(f"{metric}_mean"), _digits(metric))
                std = _number(row.get(f"{metric}_std"), _digits(metric))
                cells.append(mean if mean == "–" else f"{mean} ± {std}")
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def _data_lines(data, config):
    if not data:
        return ["Not recorded: the preset was saved without its training data (`save_to_preset` had no builder)."]
    lines = [f"- Dataset: `{data.get('dataset')}` (TFDS, version {data.get('version')})."]
    if data.get("description"):
        lines.append(f"- Its builder's description: {data['description']}")
    splits = data.get("split_subjects") or {}
    if splits:
        parts = ", ".join(f"{name} {count}" for name, count in splits.items())
        lines.append(f"- Subjects: {data.get('subjects')} in all, split by subject (never by slice): {parts}.")
    slices = data.get("split_slices") or {}
    if slices:
        lines.append("- Axial slices per split: " + ", ".join(f"{k} {v}" for k, v in slices.items()) + ".")
    if config and config.get("data_dir"):
        lines.append("- Prepared from a BraTS folder by `tfds_brats` (the folder path is not shared).")
    return lines


def _config_lines(config):
    if not config:
        return ["Not recorded (no run folder was given; `config.json` of the preset holds the architecture)."]
    shown = [k for k in config if k not in ("output_dir", "overwrite", "tfds_data_dir", "data_dir")]
    lines = ["| option | value |", "|---|---|"]
    lines += [f"| `{key}` | `{json.dumps(config[key])}` |" for key in shown]
    lines += [
        "",
        "Train again with `python -m magan_keras.train --config training_config.json` (the same options, "
        "without the machine-specific paths).",
    ]
    return lines


def _brats_citations():
    try:
        return BRATS_CITATIONS.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def model_card(metadata, record) -> str:
    """The model card's markdown.

    Args:
        metadata: the preset's `metadata.json` dict (`preset.build_metadata`).
        record: `run_record(run_dir)`.

    Returns:
        str: `README.md` text, with a Hugging Face front matter.

    Example:
    >>> record = {"run_dir": "r", "config": {"epochs": 1}, "evaluation": None,
    ...           "test_metrics": {"t1": {"psnr": 20.0, "ssim": 0.5, "mae": 0.1}}}
    >>> text = model_card({"modalities": ["t1", "t2"], "versions": {}}, record)
    >>> "| t1 | 20.00 | 0.5000 | 0.1000 |" in text
    True
    """
    modalities = list(metadata.get("modalities") or ())
    data = metadata.get("training_data")
    versions = metadata.get("versions") or {}
    config = record.get("config")
    on_brats = bool(data and str(data.get("dataset", "")).startswith("brats/"))
    lines = [
        "---",
        "library_name: keras",
        f"license: {LICENCE}",
        "pipeline_tag: image-to-image",
        "tags:",
        *(f"- {tag}" for tag in ("magan_keras", "mri", "medical-imaging", "image-to-image", "gan")),
        "---",
        "",
        "# MA-GAN: missing MRI contrast synthesis",
        "",
        f"Synthesises a missing brain-MRI contrast from the others given, for contrasts {', '.join(modalities)} "
        f"(in that channel order), {metadata.get('image_size')} px axial slices on a "
        f"{metadata.get('canvas_size')} px canvas. Made with magan_keras {versions.get('magan_keras')} and "
        f"Keras {versions.get('keras')} ({versions.get('backend')} backend).",
        "",
        "**Not for clinical use.** A research model: synthetic contrasts must not be used for diagnosis, "
        "treatment or any decision about a patient.",
        "",
        "## Use",
        "",
        "```python",
        "import magan_keras",
        'model = magan_keras.MAGAN.from_preset("<this folder or hf://owner/name>")',
        "```",
        "",
        "```bash",
        "python -m magan_keras.synthesize --model <this folder or hf://owner/name> --subject-dir S/ --out-dir out/",
        "```",
        "",
        "`keras.saving.load_model` also reads this folder (`import magan_keras` first). The preprocessing "
        "the model expects is in `preprocessing.json` (and inside `config.json`); `synthesize` and `evaluate` "
        "apply it. `metadata.json` holds the SHA-256 of every file; a changed or missing file is refused.",
        "",
        "## Intended use",
        "",
        "Research on missing-contrast synthesis: filling in a contrast of a BraTS-style, skull-stripped, "
        "co-registered multi-contrast scan for method development and comparison. Volumes unlike the "
        "training data (other scanners, protocols, pathologies or preprocessing) are out of scope and "
        "will give unreliable output.",
        "",
        "## Training data",
        "",
        *_data_lines(data, config),
        "",
        "## Configuration",
        "",
        *_config_lines(config),
        "",
        "## Test scores per target contrast (the other contrasts given)",
    ]
    if record.get("run_dir") is None:
        lines += ["", "Not recorded: no run folder was given when the preset was saved."]
    else:
        test_metrics = record.get("test_metrics")
        if test_metrics:
            lines += [
                "",
                "**As `fit` reports them** (images mapped from [-1, 1] to [0, 1], whole slices, background "
                "included; the run's `test_metrics.json`):",
                "",
                "| target | PSNR (dB) | SSIM | MAE |",
                "|---|---|---|---|",
            ]
            for contrast, values in test_metrics.items():
                lines.append(
                    f"| {contrast} | {_number(values.get('psnr'), 2)} | {_number(values.get('ssim'), 4)} "
                    f"| {_number(values.get('mae'), 4)} |"
                )
        else:
            lines += ["", "The run folder has no `test_metrics.json`."]
        rows = record.get("evaluation")
        if rows:
            lines += ["", "The evaluation protocols on the test split, with the baselines (the run's "]
            lines[-1] += "`evaluation/summary.csv`, as `python -m magan_keras.evaluate` writes it):"
            lines += _evaluation_lines(rows, modalities)
            lines += ["", "Baselines:", *(f"- `{name}`: {text}" for name, text in BASELINES.items())]
        else:
            lines += ["", "The run folder has no `evaluation/summary.csv`: the protocols and baselines were not run."]
    lines += [
        "",
        "## Licence",
        "",
        "The code and these weights: Apache-2.0 (magan_keras's licence)."
        + (
            " The weights were trained on BraTS data: its data use terms also apply; read them before "
            "redistributing or using the model commercially."
            if on_brats or (config and config.get("data_dir"))
            else ""
        ),
        "",
        "## Citation",
        "",
        "```bibtex",
        PAPER_CITATION,
        "```",
    ]
    if on_brats or (config and config.get("data_dir")):
        citations = _brats_citations()
        if citations:
            lines += ["", "The BraTS data:", "", "```bibtex", citations, "```"]
    return "\n".join(lines) + "\n"
