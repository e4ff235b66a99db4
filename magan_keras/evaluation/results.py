"""What `evaluate_model` returns: per-subject scores, their summary table, and writing them.

`EvaluationResults.write` puts `per_subject.csv`, `summary.csv`, `results.md` and
`evaluation.png` in a folder, all or nothing: each file is first written complete under a
temporary name beside its target (`magan_keras.atomic`), and the files are renamed over the
previous ones only once every one of them is complete. A failure or a kill while writing keeps
the previous outputs, whole and consistent with each other.

Example:
>>> from magan_keras.evaluation.results import METRICS, EvaluationResults
>>> rows = [{"subject_id": s, "target": "flair", "method": "magan", "slices": 3,
...          **{name: value for name in METRICS}} for s, value in (("a", 0.5), ("b", 0.75))]
>>> results = EvaluationResults(rows, ("flair",), ("magan",), {}, ["two hand-made subjects"])
>>> results.metric_mean("flair", "magan", "slice_ssim")
0.625
>>> sorted(p.name for p in results.write("report", figure=False))
['per_subject.csv', 'results.md', 'summary.csv']
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import pathlib

import numpy as np

from magan_keras import atomic
from magan_keras.evaluation import challenge, protocols, segmentation, through_plane

MODEL_METHOD = "magan"
METRICS = (
    challenge.CHALLENGE_METRICS
    + protocols.BRASYN_METRICS
    + protocols.SLICE_METRICS
    + through_plane.THROUGH_PLANE_METRICS
)
METRIC_TITLES = {
    "challenge_ssim_tumour": "challenge SSIM tumour",
    "challenge_ssim_non_tumour": "challenge SSIM non-tumour",
    "brain_ssim": "brain SSIM",
    "brain_ssim_tumour": "brain SSIM tumour",
    "brain_ssim_non_tumour": "brain SSIM non-tumour",
    "brain_psnr": "brain PSNR",
    "brain_psnr_tumour": "brain PSNR tumour",
    "brain_psnr_non_tumour": "brain PSNR non-tumour",
    "brain_mae": "brain MAE",
    "brain_mae_tumour": "brain MAE tumour",
    "brain_mae_non_tumour": "brain MAE non-tumour",
    "slice_psnr": "slice PSNR",
    "slice_ssim": "slice SSIM",
    "slice_mae": "slice MAE",
    "plane_ssim_axial": "axial SSIM",
    "plane_ssim_coronal": "coronal SSIM",
    "plane_ssim_sagittal": "sagittal SSIM",
    "roughness_z": "roughness z",
    "roughness_inplane": "roughness in-plane",
}
# Each metric as (protocol, region, measure): the long table of `EvaluationResults.by_region`.
METRIC_LAYOUT = {
    "challenge_ssim_tumour": ("challenge", "tumour", "SSIM"),
    "challenge_ssim_non_tumour": ("challenge", "non-tumour (background included)", "SSIM"),
    "brain_ssim": ("brain", "brain", "SSIM"),
    "brain_ssim_tumour": ("brain", "tumour", "SSIM"),
    "brain_ssim_non_tumour": ("brain", "non-tumour brain", "SSIM"),
    "brain_psnr": ("brain", "brain", "PSNR"),
    "brain_psnr_tumour": ("brain", "tumour", "PSNR"),
    "brain_psnr_non_tumour": ("brain", "non-tumour brain", "PSNR"),
    "brain_mae": ("brain", "brain", "MAE"),
    "brain_mae_tumour": ("brain", "tumour", "MAE"),
    "brain_mae_non_tumour": ("brain", "non-tumour brain", "MAE"),
    "slice_psnr": ("slice", "brain", "PSNR"),
    "slice_ssim": ("slice", "brain", "SSIM"),
    "slice_mae": ("slice", "brain", "MAE"),
    "plane_ssim_axial": ("orientation", "brain, axial slices", "SSIM"),
    "plane_ssim_coronal": ("orientation", "brain, coronal slices", "SSIM"),
    "plane_ssim_sagittal": ("orientation", "brain, sagittal slices", "SSIM"),
}
MEASURES = ("PSNR", "MAE", "SSIM")
PER_SUBJECT_COLUMNS = ("subject_id", "target", "method", "slices", *METRICS)
OUTPUT_FILES = ("per_subject.csv", "summary.csv", "results.md", "evaluation.png")
FIGURE_FILE = OUTPUT_FILES[3]


def existing_outputs(out_dir, names=OUTPUT_FILES) -> list:
    """The paths among `out_dir / name` that exist already.

    Args:
        out_dir: str or path-like.
        names: file names to look for (default: every output of `EvaluationResults.write`).

    Example:
    >>> from magan_keras.evaluation.results import existing_outputs
    >>> existing_outputs("no_such_folder")
    []
    """
    out_dir = pathlib.Path(os.fspath(out_dir))
    return [out_dir / name for name in names if (out_dir / name).exists()]


def _csv_row(row, columns):
    return {k: (f"{row[k]:.6g}" if isinstance(row.get(k), float) else row.get(k)) for k in columns}


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

    Example: see the module docstring.
    """

    rows: list
    targets: tuple
    methods: tuple
    examples: dict
    notes: list
    seconds_per_volume: float = math.nan

    def all_metrics(self) -> tuple:
        """`METRICS`, then `segmentation.SEGMENTATION_METRICS` when a segmenter was run.

        Example:
        >>> from magan_keras.evaluation.results import METRICS, EvaluationResults
        >>> results = EvaluationResults([{"target": "t1", "method": "magan"}], ("t1",), ("magan",), {}, [])
        >>> results.all_metrics() == METRICS
        True
        """
        extra = segmentation.SEGMENTATION_METRICS if segmentation.has_segmentation(self.rows) else ()
        return METRICS + extra

    def summary(self) -> list:
        """One dict per (target, method): `n` subjects and `<metric>_mean` / `_std` / `_n`.

        The standard deviation is numpy's (ddof=0) over subjects; NaN values (undefined scores,
        e.g. a tumour score of a subject without tumour) are left out, and `<metric>_n` counts
        the subjects that have the score.

        Example:
        >>> from magan_keras.evaluation.results import METRICS, EvaluationResults
        >>> rows = [{"target": "t1", "method": "magan", **{m: v for m in METRICS}} for v in (1.0, 3.0)]
        >>> rows[0]["brain_ssim_tumour"] = float("nan")   # no tumour in that subject
        >>> entry = EvaluationResults(rows, ("t1",), ("magan",), {}, []).summary()[0]
        >>> entry["n"], entry["slice_psnr_mean"], entry["slice_psnr_std"], entry["brain_ssim_tumour_n"]
        (2, 2.0, 1.0, 1)
        """
        table = []
        for target in self.targets:
            for method in self.methods:
                rows = [r for r in self.rows if r["target"] == target and r["method"] == method]
                entry = {"target": target, "method": method, "n": len(rows)}
                for metric in self.all_metrics():  # segmentation scores: the model's rows only
                    values = np.asarray([r.get(metric, math.nan) for r in rows], np.float64)
                    values = values[np.isfinite(values)]
                    entry[f"{metric}_mean"] = float(values.mean()) if values.size else math.nan
                    entry[f"{metric}_std"] = float(values.std()) if values.size else math.nan
                    entry[f"{metric}_n"] = int(values.size)
                table.append(entry)
        return table

    def by_region(self) -> list:
        """The summary in long form: one dict per (target, method, protocol, region).

        Each has `target`, `method`, `protocol` (`challenge`, `brain`, `slice`, `orientation`: the
        SSIMs of `through_plane`), `region`, and
        per measure of `MEASURES` its `<measure>_mean`, `_std` and `_n` (NaN / 0 where the protocol
        has no such measure: the challenge reports SSIM only).

        Example:
        >>> from magan_keras.evaluation.results import METRICS, EvaluationResults
        >>> rows = [{"target": "t1", "method": "magan", **{m: v for m in METRICS}} for v in (1.0, 3.0)]
        >>> table = EvaluationResults(rows, ("t1",), ("magan",), {}, []).by_region()
        >>> [(e["protocol"], e["region"]) for e in table][:3]
        [('challenge', 'tumour'), ('challenge', 'non-tumour (background included)'), ('brain', 'brain')]
        >>> table[2]["MAE_mean"], table[2]["MAE_std"], table[2]["MAE_n"]
        (2.0, 1.0, 2)
        """
        table = []
        for entry in self.summary():
            groups: dict = {}
            for metric, (protocol, region, measure) in METRIC_LAYOUT.items():
                group = groups.setdefault(
                    (protocol, region),
                    {"target": entry["target"], "method": entry["method"], "protocol": protocol, "region": region}
                    | {f"{m}_{k}": (0 if k == "n" else math.nan) for m in MEASURES for k in ("mean", "std", "n")},
                )
                for key in ("mean", "std", "n"):
                    group[f"{measure}_{key}"] = entry[f"{metric}_{key}"]
            table.extend(groups.values())
        return table

    def region_markdown(self) -> str:
        """`by_region` as a markdown table: mean ± std (n subjects) of PSNR, MAE and SSIM.

        Example:
        >>> from magan_keras.evaluation.results import METRICS, EvaluationResults
        >>> rows = [{"target": "t1", "method": "magan", **{m: v for m in METRICS}} for v in (0.25, 0.75)]
        >>> EvaluationResults(rows, ("t1",), ("magan",), {}, []).region_markdown().splitlines()[4]
        '| t1 | magan | brain | brain | 0.50 ± 0.25 (2) | 0.5000 ± 0.2500 (2) | 0.5000 ± 0.2500 (2) |'
        """
        header = ["target", "method", "protocol", "region", *(f"{m} mean ± std (n)" for m in MEASURES)]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for entry in self.by_region():
            cells = [entry["target"], entry["method"], entry["protocol"], entry["region"]]
            for measure in MEASURES:
                mean, std, n = (entry[f"{measure}_{k}"] for k in ("mean", "std", "n"))
                digits = 2 if measure == "PSNR" else 4
                cells.append("–" if not np.isfinite(mean) else f"{mean:.{digits}f} ± {std:.{digits}f} ({n})")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def metric_mean(self, target, method, metric) -> float:
        """Mean over subjects of one metric (NaN if undefined).

        Args:
            target: str. Target contrast.
            method: str. `magan` or a baseline.
            metric: str. One of `METRICS`.

        Raises:
            KeyError: no results for that target and method.

        Example:
        >>> from magan_keras.evaluation.results import METRICS, EvaluationResults
        >>> rows = [{"target": "t1", "method": "magan", **{m: 0.25 for m in METRICS}}]
        >>> EvaluationResults(rows, ("t1",), ("magan",), {}, []).metric_mean("t1", "magan", "slice_mae")
        0.25
        """
        for entry in self.summary():
            if entry["target"] == target and entry["method"] == method:
                return entry[f"{metric}_mean"]
        raise KeyError(f"no results for target {target!r}, method {method!r}")

    def to_markdown(self) -> str:
        """The summary as a markdown table (mean ± std over subjects) followed by notes.

        Example:
        >>> from magan_keras.evaluation.results import METRICS, EvaluationResults
        >>> rows = [{"target": "t1", "method": "magan", **{m: 0.5 for m in METRICS}}]
        >>> text = EvaluationResults(rows, ("t1",), ("magan",), {}, ["a note"]).to_markdown()
        >>> text.splitlines()[2].split(" | ")[:4]
        ['| t1', 'magan', '1', '0.5000 ± 0.0000']
        >>> text.splitlines()[-1]
        '- a note'
        """
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
        lines.extend(["Per protocol and region (mean ± standard deviation over subjects, n subjects):", ""])
        lines.extend([self.region_markdown(), ""])
        if segmentation.has_segmentation(self.rows):
            lines.extend([segmentation.markdown_table(self.summary()), ""])
        lines.extend(f"- {note}" for note in self.notes)
        return "\n".join(lines) + "\n"

    def write(self, out_dir, *, overwrite=False, figure=True) -> list:
        """Writes `per_subject.csv`, `summary.csv`, `results.md` and `evaluation.png`, all or nothing.

        Every file is written complete under a temporary name first; they replace the previous
        files only once all are written, so an error or a kill midway leaves the previous ones.

        Args:
            out_dir: str or path-like. Created when missing.
            overwrite: bool. Replace existing outputs.
            figure: bool. Also draw `evaluation.png` (`figures.evaluation_figure`).

        Raises:
            FileExistsError: one of them exists and `overwrite` is False (nothing is written).

        Returns:
            the paths written.

        Example: see the module docstring.
        """
        out_dir = pathlib.Path(os.fspath(out_dir))
        names = OUTPUT_FILES if figure else OUTPUT_FILES[:3]
        if figure and segmentation.has_segmentation(self.rows):
            names += (segmentation.FIGURE_FILE,)  # real vs synthetic Dice / HD95
        existing = existing_outputs(out_dir, names)
        if existing and not overwrite:
            raise FileExistsError(f"{existing[0]} exists; pass --overwrite (overwrite=True) to replace it")
        summary = self.summary()
        summary_columns = list(summary[0]) if summary else ["target", "method", "n"]
        paths = [out_dir / name for name in names]
        with contextlib.ExitStack() as stack:
            # Leaving the stack without an error renames every temporary file over its target;
            # an error removes them all and keeps the previous outputs.
            temporary = {path.name: stack.enter_context(atomic.replacing(path)) for path in paths}
            columns = PER_SUBJECT_COLUMNS + self.all_metrics()[len(METRICS) :]
            atomic.write_csv(temporary["per_subject.csv"], columns, [_csv_row(r, columns) for r in self.rows])
            atomic.write_csv(temporary["summary.csv"], summary_columns, [_csv_row(r, summary_columns) for r in summary])
            atomic.write_text(temporary["results.md"], "# MA-GAN evaluation\n\n" + self.to_markdown())
            if figure:
                from magan_keras.evaluation import figures  # pylint: disable=import-outside-toplevel

                figures.evaluation_figure(self, temporary[FIGURE_FILE])
                if segmentation.FIGURE_FILE in temporary:
                    segmentation.segmentation_figure(summary, temporary[segmentation.FIGURE_FILE])
        return paths
