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
from magan_keras.evaluation import challenge, protocols

MODEL_METHOD = "magan"
METRICS = challenge.CHALLENGE_METRICS + protocols.BRASYN_METRICS + protocols.SLICE_METRICS
METRIC_TITLES = {
    "challenge_ssim_tumour": "challenge SSIM tumour",
    "challenge_ssim_non_tumour": "challenge SSIM non-tumour",
    "brain_ssim": "brain SSIM",
    "brain_ssim_tumour": "brain SSIM tumour",
    "brain_ssim_non_tumour": "brain SSIM non-tumour",
    "brain_psnr": "brain PSNR",
    "slice_psnr": "slice PSNR",
    "slice_ssim": "slice SSIM",
    "slice_mae": "slice MAE",
}
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

    def summary(self) -> list:
        """One dict per (target, method): `n` subjects and `<metric>_mean` / `<metric>_std`.

        The standard deviation is numpy's (ddof=0); NaN values (undefined scores) are left out.

        Example:
        >>> from magan_keras.evaluation.results import METRICS, EvaluationResults
        >>> rows = [{"target": "t1", "method": "magan", **{m: v for m in METRICS}} for v in (1.0, 3.0)]
        >>> entry = EvaluationResults(rows, ("t1",), ("magan",), {}, []).summary()[0]
        >>> entry["n"], entry["slice_psnr_mean"], entry["slice_psnr_std"]
        (2, 2.0, 1.0)
        """
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
            atomic.write_csv(
                temporary["per_subject.csv"], PER_SUBJECT_COLUMNS, [_csv_row(r, PER_SUBJECT_COLUMNS) for r in self.rows]
            )
            atomic.write_csv(temporary["summary.csv"], summary_columns, [_csv_row(r, summary_columns) for r in summary])
            atomic.write_text(temporary["results.md"], "# MA-GAN evaluation\n\n" + self.to_markdown())
            if figure:
                from magan_keras.evaluation import figures  # pylint: disable=import-outside-toplevel

                figures.evaluation_figure(self, temporary[FIGURE_FILE])
        return paths
