"""Downstream segmentation (`magan_keras.evaluation.segmentation`, `evaluate --segmenter`): Dice and
HD95 against hand-computed values, the BraTS empty rules and labellings, the command template, a
scripted segmenter run by the library and by the command line."""

import csv
import inspect
import math
import os
import pathlib
import re
import sys

import nibabel as nib
import numpy as np
import pytest

from magan_keras.cli import evaluate
from magan_keras.evaluation import segmentation
from magan_keras.evaluation.segmentation import (
    EMPTY_HD95,
    SEGMENTATION_METRICS,
    Segmenter,
    SegmenterError,
    dice,
    hd95,
    overlap_scores,
    to_stored_labels,
)
from magan_keras.evaluation.subjects import SubjectData, subjects_from_folder
from tfds_brats.brats.make_dummy_data import write_fake_subject


def threshold_segmentation(t1ce, flair):
    """The scripted segmenter: bright FLAIR is tumour (2), bright T1Gd in it enhancing (BraTS 2023: 3)."""
    seg = np.zeros(flair.shape, np.uint8)
    tumour = flair > np.percentile(flair[flair > 0], 80)
    seg[tumour] = 2
    seg[tumour & (t1ce > np.percentile(t1ce[t1ce > 0], 85))] = 3
    seg[tumour & (t1ce > 0) & (t1ce < np.percentile(t1ce[t1ce > 0], 20))] = 1
    return seg


SCRIPT = f"""import sys
import nibabel as nib
import numpy as np
{inspect.getsource(threshold_segmentation)}
t1ce_path, flair_path, out = sys.argv[1:4]
t1ce, flair = (nib.load(p) for p in (t1ce_path, flair_path))
seg = threshold_segmentation(t1ce.get_fdata(), flair.get_fdata())
nib.save(nib.Nifti1Image(seg, flair.affine), out)
"""


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "threshold_seg.py"
    path.write_text(SCRIPT, encoding="utf-8")
    return path


def brute_force_hd95(a, b, spacing):
    """HD95 from every pair of surface voxels (a voxel with a 6-neighbour outside its mask or the array)."""

    def surface(mask):
        padded = np.pad(mask, 1)
        inner = np.ones_like(mask)
        for axis in range(3):
            for step in (1, -1):
                inner &= np.roll(padded, step, axis)[1:-1, 1:-1, 1:-1]
        return np.argwhere(mask & ~inner) * np.asarray(spacing)

    pa, pb = surface(a), surface(b)
    pairwise = np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1))
    return max(np.percentile(pairwise.min(1), 95), np.percentile(pairwise.min(0), 95))


def cube(shape, low, high):
    mask = np.zeros(shape, bool)
    mask[tuple(slice(a, b) for a, b in zip(low, high))] = True
    return mask


def test_dice_and_hd95_equal_hand_computed_values():
    # Two 5-voxel cubes offset by 2 voxels along x: overlap 3 x 5 x 5 of 125 each.
    truth = cube((20, 20, 20), (5, 5, 5), (10, 10, 10))
    shifted = cube((20, 20, 20), (7, 5, 5), (12, 10, 10))
    assert dice(shifted, truth) == pytest.approx(2 * 75 / 250)
    # A cube shrunk by one voxel on every side (isotropic): from the outer surface the faces are
    # 1 away (216 voxels), the edges sqrt(2) (72), the corners sqrt(3) (8); the 95th percentile of
    # the 296 distances falls among the edges; the inner surface is 1 away everywhere.
    outer, inner = cube((16, 16, 16), (4, 4, 4), (12, 12, 12)), cube((16, 16, 16), (5, 5, 5), (11, 11, 11))
    assert hd95(inner, outer) == pytest.approx(math.sqrt(2))
    assert dice(inner, outer) == pytest.approx(2 * 216 / (512 + 216))
    # One-voxel-thick sheets 3 voxels apart along x, 2.5 mm voxels along x: every distance 7.5 mm.
    sheet = cube((12, 8, 8), (2, 1, 1), (3, 7, 7))
    assert hd95(np.roll(sheet, 3, axis=0), sheet, spacing=(2.5, 1.0, 1.0)) == pytest.approx(7.5)
    # Single voxels 4 slices apart, 3 mm slices: 12 mm.
    a, b = cube((6, 6, 12), (2, 2, 1), (3, 3, 2)), cube((6, 6, 12), (2, 2, 5), (3, 3, 6))
    assert hd95(a, b, spacing=(0.9, 0.9, 3.0)) == pytest.approx(12.0)
    # Anisotropic spacing on the offset cubes, against every pair of surface voxels.
    spacing = (2.0, 1.0, 0.5)
    assert hd95(shifted, truth, spacing) == pytest.approx(brute_force_hd95(shifted, truth, spacing))
    assert hd95(shifted, truth, spacing) != pytest.approx(hd95(shifted, truth))


def test_empty_structures_follow_the_brats_rules():
    empty, full = np.zeros((6, 6, 6), bool), cube((6, 6, 6), (1, 1, 1), (3, 3, 3))
    assert (dice(empty, empty), hd95(empty, empty)) == (1.0, 0.0)
    assert (dice(full, empty), hd95(full, empty)) == (0.0, EMPTY_HD95)
    assert (dice(empty, full), hd95(empty, full)) == (0.0, EMPTY_HD95)
    assert EMPTY_HD95 == 374.0


def test_regions_and_labels_are_scored_per_structure():
    truth = np.zeros((10, 10, 10), np.uint8)
    truth[2:8, 2:8, 2:8] = 2  # edema
    truth[3:7, 3:7, 3:7] = 4  # enhancing
    truth[4:6, 4:6, 4:6] = 1  # necrosis
    prediction = truth.copy()
    prediction[prediction == 1] = 4  # necrosis called enhancing: WT and TC exact, ET and NCR not
    scores = overlap_scores(prediction, truth)
    assert (scores["dice_wt"], scores["dice_tc"], scores["dice_ed"]) == (1.0, 1.0, 1.0)
    assert scores["dice_et"] == pytest.approx(2 * 56 / (64 + 56))
    assert (scores["dice_ncr"], scores["hd95_ncr"]) == (0.0, EMPTY_HD95)
    assert scores["hd95_wt"] == 0.0
    by_table, by_isin = segmentation.structure_masks(truth), segmentation.structure_masks(truth.astype(np.int64))
    assert all(np.array_equal(by_table[k], by_isin[k]) for k in segmentation.STRUCTURES)
    assert [int(by_table[k].sum()) for k in segmentation.STRUCTURES] == [216, 64, 56, 8, 152]


def test_label_conventions_are_detected_or_stated():
    seg, found = to_stored_labels(np.array([0, 1, 2, 3]))
    assert seg.tolist() == [0, 1, 2, 4] and found == "2023"
    assert to_stored_labels(np.array([0, 4, 2]))[1] == "2021"
    assert to_stored_labels(np.array([0, 1, 2]))[1] == "either"
    assert to_stored_labels(np.array([0, 3]), "2023")[0].tolist() == [0, 4]
    with pytest.raises(SegmenterError, match="both 3 and 4"):
        to_stored_labels(np.array([3, 4]))
    with pytest.raises(SegmenterError, match=r"labels \[4\] are not BraTS 2023"):
        to_stored_labels(np.array([0, 4]), "2023")
    with pytest.raises(SegmenterError, match=r"labels \[7\]"):
        to_stored_labels(np.array([0, 7]))
    with pytest.raises(SegmenterError, match="non-integer"):
        to_stored_labels(np.array([0.5]))


def test_command_templates_are_validated_and_filled():
    assert Segmenter("seg {t1n} {t1c} {t2w} {t2f} {out}").inputs == ("t1", "t1ce", "t2", "flair")
    assert Segmenter("seg -i {dir} -o {out}").inputs == ("t1", "t1ce", "t2", "flair")
    assert Segmenter("seg {flair} {t1ce} {out}").inputs == ("t1ce", "flair")
    for command, message in (
        ("seg {flair} {mask}", "unknown placeholder {mask}"),
        ("seg {flair}", "must contain {out}"),
        ("seg {out}", "names no input"),
        ("seg '{flair} {out}", "cannot parse"),
    ):
        with pytest.raises(ValueError, match=message):
            Segmenter(command)
    with pytest.raises(ValueError, match="--segmenter-labels"):
        Segmenter("seg {dir} {out}", labels="2019")
    filled = Segmenter("seg --flair '{flair}' {out}").arguments({"flair": "a b.nii.gz", "out": "o"})
    assert filled == ["seg", "--flair", "a b.nii.gz", "o"]
    shell = Segmenter("seg {flair} {out} && echo", shell=True).arguments({"flair": "a b", "out": "o"})
    assert shell == "seg 'a b' o && echo"
    assert Segmenter("awk '{{print}}' {flair} {out}").arguments({"flair": "f", "out": "o"}) == [
        "awk",
        "{print}",
        "f",
        "o",
    ]


def test_a_scripted_segmenter_runs_on_the_real_and_synthetic_inputs(script, tmp_path):
    files = write_fake_subject(tmp_path / "brats" / "case0", "case0", axcodes=("L", "P", "S"), shape=(20, 20, 10))
    subject = next(iter(subjects_from_folder(tmp_path / "brats")))
    segmenter = Segmenter(f"{sys.executable} {script} {{t1ce}} {{flair}} {{out}}")
    real = segmenter.scores(subject)
    expected = threshold_segmentation(subject.scanner["t1ce"], subject.scanner["flair"])
    expected[expected == 3] = 4
    assert real == overlap_scores(expected, subject.seg, segmentation.voxel_spacing(subject.geometry.affine))
    assert 0.0 < real["dice_wt"] < 1.0 and segmenter.found_labels["2023"] == 1
    # The synthesis in place of a contrast the script never reads changes nothing; in place of
    # FLAIR the script segments the synthesis.
    noise = np.random.default_rng(0).uniform(-1, 1, subject.brain_mask.shape).astype(np.float32)
    assert segmenter.scores(subject, {"t2": noise}) == real
    synthetic = segmenter.scores(subject, {"flair": noise})
    unit = (noise + 1) / 2 * subject.brain_mask
    expected = threshold_segmentation(subject.scanner["t1ce"], unit)
    expected[expected == 3] = 4
    assert synthetic["dice_wt"] == pytest.approx(dice(expected > 0, subject.seg > 0))
    assert synthetic["dice_wt"] < real["dice_wt"]
    assert nib.aff2axcodes(nib.load(files["t1"]).affine) == ("L", "P", "S")  # read back to canonical


def test_segmenter_failures_are_one_line_errors_naming_the_subject(tmp_path):
    volumes = {c: np.ones((4, 4, 4), np.float32) for c in ("t1", "t1ce", "t2", "flair")}
    failing = tmp_path / "fail.py"
    failing.write_text("import sys\nprint('loading weights', file=sys.stderr)\nsys.exit('model not found')\n")
    with pytest.raises(SegmenterError) as error:
        Segmenter(f"{sys.executable} {failing} {{flair}} {{out}}").segment("case7", volumes, run="real")
    message = str(error.value)
    assert "\n" not in message and "case7 (real inputs)" in message and "status 1" in message
    assert message.endswith("loading weights | model not found")
    with pytest.raises(SegmenterError, match="case7 .*wrote no segmentation"):
        Segmenter(f"{sys.executable} -c pass {{flair}} {{out}}").segment("case7", volumes)
    with pytest.raises(SegmenterError, match="command not found"):
        Segmenter("no-such-segmenter-here {flair} {out}").segment("case7", volumes)
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "import sys, nibabel as nib, numpy as np\n"
        "nib.save(nib.Nifti1Image(np.zeros((3, 3, 3), np.uint8), np.eye(4)), sys.argv[2])\n"
    )
    with pytest.raises(SegmenterError, match=r"case7 .*output shape \(3, 3, 3\) is not the inputs' \(4, 4, 4\)"):
        Segmenter(f"{sys.executable} {wrong} {{flair}} {{out}}").segment("case7", volumes)
    subject = SubjectData("s", np.zeros((4, 4, 4, 4), np.float32), np.ones((4, 4, 4), bool), None, None, [], True)
    with pytest.raises(ValueError, match="subject s has none"):
        Segmenter(f"{sys.executable} {wrong} {{flair}} {{out}}").scores(subject)


def read_csv(path):
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_command_line_puts_real_and_synthetic_scores_side_by_side(model_path, script, tmp_path, capsys):
    for i, naming in enumerate(("brats2018-2021", "brats2023")):
        write_fake_subject(tmp_path / "brats" / f"case{i}", f"case{i}", naming=naming, seed=i, shape=(20, 20, 10))
    out = tmp_path / "report"
    command = f"{sys.executable} {script} {{t1c}} {{t2f}} {{out}}"
    argv = ["--model", model_path, "--data-dir", tmp_path / "brats", "--out-dir", out, "--quiet"]
    argv += ["--canvas-size", 24, "--target", "t2,flair", "--no-baselines", "--segmenter", command]
    assert evaluate.main([str(a) for a in argv]) == 0, capsys.readouterr().err
    rows = read_csv(out / "per_subject.csv")
    assert all(name in rows[0] for name in SEGMENTATION_METRICS)
    assert "seg_dice_wt_real" in SEGMENTATION_METRICS and "seg_hd95_et_synthetic" in SEGMENTATION_METRICS
    model = {(r["subject_id"], r["target"]): r for r in rows if r["method"] == "magan"}
    for subject in subjects_from_folder(tmp_path / "brats"):
        expected = threshold_segmentation(subject.scanner["t1ce"], subject.scanner["flair"])
        expected[expected == 3] = 4
        scores = overlap_scores(expected, subject.seg, segmentation.voxel_spacing(subject.geometry.affine))
        for target in ("t2", "flair"):
            row = model[(subject.subject_id, target)]
            assert float(row["seg_dice_wt_real"]) == pytest.approx(scores["dice_wt"], abs=1e-5)
            assert float(row["seg_hd95_tc_real"]) == pytest.approx(scores["hd95_tc"], rel=1e-5)
        t2 = model[(subject.subject_id, "t2")]  # the script never reads T2: synthetic = real
        assert all(t2[f"seg_{m}_synthetic"] == t2[f"seg_{m}_real"] for m in ("dice_wt", "hd95_et", "dice_ncr"))
    summary = {(r["target"], r["method"]): r for r in read_csv(out / "summary.csv")}
    flair = summary[("flair", "magan")]
    real = np.mean([float(model[(s, "flair")]["seg_dice_wt_real"]) for s in ("case0", "case1")])
    assert float(flair["seg_dice_wt_real_mean"]) == pytest.approx(real, abs=1e-5)
    assert "seg_dice_wt_synthetic_std" in flair
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert "## Downstream segmentation (real vs synthetic inputs)" in markdown
    assert "| flair | magan | 2 | whole tumour (1 + 2 + ET) |" in markdown
    assert "labels detected per output: 2023 x6" in markdown and "HD95 374 mm" in markdown
    assert (out / segmentation.FIGURE_FILE).stat().st_size > 10000
    # A failing segmenter stops the command with the subject named, nothing written.
    argv[argv.index(command)] = f"{sys.executable} -c 'import sys; sys.exit(3)' {{flair}} {{out}}"
    assert evaluate.main([str(a) for a in argv + ["--out-dir", tmp_path / "other"]]) == 2
    assert "subject case0 (real inputs) exited with status 3" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()
    argv[argv.index("--segmenter") + 1] = "seg {flair}"
    assert evaluate.main([str(a) for a in argv + ["--overwrite"]]) == 2
    assert "must contain {out}" in capsys.readouterr().err


def readme_block(language, needle):
    text = (pathlib.Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)
    (block,) = [b for b in blocks if needle in b]
    return block


FAKE_NNUNET = """import sys, pathlib, nibabel as nib, numpy as np
args = sys.argv[1:]
inputs, outputs = pathlib.Path(args[args.index("-i") + 1]), pathlib.Path(args[args.index("-o") + 1])
assert args[args.index("-d") + 1] == "137", args
t1ce, flair = (nib.load(inputs / f"case_000{i}.nii.gz") for i in (1, 3))
seg = np.zeros(flair.shape, np.uint8)  # nnU-Net's Dataset137 labels: 1 edema, 2 necrosis, 3 enhancing
seg[flair.get_fdata() > 0.5] = 1
seg[t1ce.get_fdata() > 0.5] = 3
seg[(flair.get_fdata() > 0.5) & (t1ce.get_fdata() < 0.25)] = 2
outputs.mkdir()
nib.save(nib.Nifti1Image(seg, flair.affine), outputs / "case.nii.gz")
"""

FAKE_BRATS = """import nibabel as nib, numpy as np


class AdultGliomaPreTreatmentSegmenter:
    def __init__(self, cuda_devices="0"):
        self.cuda_devices = cuda_devices

    def infer_single(self, t1c, t1n, t2f, t2w, output_file):
        for path, tag in ((t1c, "t1c"), (t1n, "t1n"), (t2f, "t2f"), (t2w, "t2w")):
            assert str(path).endswith(f"-{tag}.nii.gz"), (path, tag)
        t1c, t2f = nib.load(t1c), nib.load(t2f)
        seg = np.where(t2f.get_fdata() > 0.5, 2, 0).astype(np.uint8)
        seg[t1c.get_fdata() > 0.5] = 3  # BraTS 2023: enhancing tumour
        nib.save(nib.Nifti1Image(seg, t2f.affine), output_file)
"""


def test_the_readme_wrappers_for_nnunet_and_the_brats_package(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    volumes = {c: rng.uniform(0, 1, (8, 8, 6)).astype(np.float32) for c in ("t1", "t1ce", "t2", "flair")}
    affine = np.diag([1.0, 1.0, 2.0, 1.0])
    t1ce, flair = volumes["t1ce"] > 0.5, volumes["flair"] > 0.5
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nnUNetv2_predict"
    fake.write_text(f"#!{sys.executable}\n" + FAKE_NNUNET)
    fake.chmod(0o755)
    (tmp_path / "brats").mkdir()
    (tmp_path / "brats" / "__init__.py").write_text(FAKE_BRATS)
    monkeypatch.setenv(
        "PATH", f"{bin_dir}{os.pathsep}{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))

    wrapper = tmp_path / "nnunet_segment.sh"
    wrapper.write_text(readme_block("sh", "nnUNetv2_predict"))
    seg = Segmenter(f"sh {wrapper} {{t1}} {{t1ce}} {{t2}} {{flair}} {{out}}").segment("case0", volumes, affine)
    expected = np.where(flair, 2, 0)  # back to BraTS 2021: edema 2, necrosis 1, enhancing 4
    expected[t1ce] = 4
    expected[flair & (volumes["t1ce"] < 0.25)] = 1
    np.testing.assert_array_equal(seg, expected)

    script = tmp_path / "brats_segment.py"
    script.write_text(readme_block("python", "from brats import"))
    segmenter = Segmenter(f"{sys.executable} {script} {{t1n}} {{t1c}} {{t2w}} {{t2f}} {{out}}", labels="2023")
    expected = np.where(flair, 2, 0)
    expected[t1ce] = 4
    np.testing.assert_array_equal(segmenter.segment("case0", volumes, affine), expected)


def test_evaluate_model_segments_prepared_split_subjects_on_the_unit_scale(channel_copy, script):
    from magan_keras.evaluation.baselines import Baselines
    from magan_keras.evaluation.evaluate import evaluate_model
    from magan_keras.inference.generator import to_unit_scale

    rng = np.random.default_rng(3)
    grid = np.indices((16, 16, 6)).astype(np.float32)
    mask = ((grid[0] - 8) ** 2 + (grid[1] - 8) ** 2) <= 36
    images = np.where(mask[..., None], rng.uniform(-0.8, 0.8, (16, 16, 6, 4)), -1.0).astype(np.float32)
    seg = np.where(mask & (grid[0] > 9), 2, 0).astype(np.uint8)
    seg[mask & (grid[0] > 11)] = 4
    subject = SubjectData("split0", images, mask, seg, None, np.arange(6), model_size=True)
    segmenter = Segmenter(f"{sys.executable} {script} {{t1ce}} {{flair}} {{out}}")
    # The stand-in generator copies T1 as the synthesis of T2, which the script never reads.
    baselines = Baselines.fit([(images, mask)])
    results = evaluate_model(channel_copy(0), [subject], targets=["t2"], baselines=baselines, segmenter=segmenter)
    row, *baseline_rows = results.rows
    assert row["method"] == "magan" and len(baseline_rows) == 2
    assert not any(name in r for r in baseline_rows for name in SEGMENTATION_METRICS)  # baselines: not segmented
    summary = {e["method"]: e for e in results.summary()}
    assert math.isnan(summary["linear"]["seg_dice_wt_real_mean"]) and summary["linear"]["seg_dice_wt_real_n"] == 0
    assert "| t2 | magan | 1 |" in results.to_markdown() and "| t2 | linear | 1 | whole" not in results.to_markdown()
    expected = threshold_segmentation(to_unit_scale(images[..., 1], mask), to_unit_scale(images[..., 3], mask))
    expected[expected == 3] = 4
    scores = overlap_scores(expected, seg)  # no header: identity affine, 1 voxel = 1 mm
    assert row["seg_dice_wt_real"] == scores["dice_wt"] and row["seg_hd95_ed_real"] == scores["hd95_ed"]
    assert all(row[f"seg_{m}_synthetic"] == row[f"seg_{m}_real"] for m in ("dice_wt", "hd95_tc", "dice_et"))
    assert segmentation.NOTE in results.notes
    with pytest.raises(ValueError, match="--segmenter takes the BraTS contrasts"):
        evaluate_model(channel_copy(0, modalities=("t1", "t2")), [subject], segmenter=segmenter)
