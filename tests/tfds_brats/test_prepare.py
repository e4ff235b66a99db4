"""prepare(): atomic, a no-op when done, the command line and its summary."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfds_brats import prepare as prepare_module
from tfds_brats.brats import Builder as BratsBuilder
from tfds_brats.builder_base import SizedShardConfig
from tfds_brats.configs import BratsConfig
from tfds_brats.prepare import main, prepare, resolve_config, summary


class _Interrupted(KeyboardInterrupt):
    pass


def test_interrupted_prepare_leaves_nothing_loadable(dummy_dir, tmp_path, monkeypatch):
    original = BratsBuilder._generate_examples

    def interrupt_in_validation(self, reports, split="train"):
        for count, item in enumerate(original(self, reports, split)):
            if split == "validation" and count == 3:
                raise _Interrupted("Ctrl-C")  # after train was fully written
            yield item

    monkeypatch.setattr(BratsBuilder, "_generate_examples", interrupt_in_validation)
    data_dir = tmp_path / "tfds"
    with pytest.raises(_Interrupted):
        prepare(dummy_dir, config="slices_64", data_dir=data_dir)

    assert not list(data_dir.rglob("dataset_info.json"))
    assert not list(data_dir.rglob("*.tfrecord*"))
    fresh = BratsBuilder(config="slices_64", data_dir=str(data_dir))
    assert not fresh.is_prepared()
    with pytest.raises(AssertionError, match="could not find data"):
        fresh.as_dataset(split="train")
    with pytest.raises(AssertionError, match="could not find data"):
        tfds.load("brats/slices_64", data_dir=str(data_dir), download=False)

    monkeypatch.setattr(BratsBuilder, "_generate_examples", original)
    builder = prepare(dummy_dir, config="slices_64", data_dir=data_dir)  # a rerun succeeds
    assert builder.info.splits["validation"].num_examples == 11


def test_second_prepare_is_a_no_op(tmp_path, monkeypatch, phantom_module):
    first = prepare(phantom=True, image_size=16, num_subjects=4, data_dir=tmp_path)
    # A run-time config reads back by name too (TFDS's read-only builder).
    by_name = tfds.builder("brats_phantom/slices_16_num_subjects4", data_dir=str(tmp_path))
    assert "subjects found: 4" in summary(by_name)

    def must_not_run(*args, **kwargs):
        raise AssertionError("generation ran again")

    monkeypatch.setattr(type(first), "_split_generators", must_not_run)
    again = prepare(phantom=True, image_size=16, num_subjects=4, data_dir=tmp_path)
    assert again.data_dir == first.data_dir
    assert again.info.splits["train"].num_examples == first.info.splits["train"].num_examples


def test_prepared_folder_with_other_settings_is_refused(tmp_path, phantom_module):
    prepare(phantom=True, image_size=16, num_subjects=4, data_dir=tmp_path)
    from tfds_brats.configs import PhantomConfig

    clash = PhantomConfig(name="slices_16_num_subjects4", image_size=16, num_subjects=4, seed=5)
    with pytest.raises(ValueError, match="prepared with other settings"):
        prepare(phantom=True, config=clash, data_dir=tmp_path)


def test_resolve_config_names_what_changed():
    assert resolve_config(BratsBuilder).name == "slices_128"
    assert resolve_config(BratsBuilder, image_size=64).name == "slices_64"
    custom = resolve_config(BratsBuilder, image_size=96, split_seed=2)
    assert custom.name == "slices_96_split_seed2" and custom.image_size == 96 and custom.split_seed == 2
    assert resolve_config(BratsBuilder, "volumes", image_size=64).name == "volumes"
    with pytest.raises(ValueError, match="unknown brats config"):
        resolve_config(BratsBuilder, "slices_100")
    with pytest.raises(ValueError, match="unknown BratsConfig field"):
        resolve_config(BratsBuilder, min_brain_fractoin=0.1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(image_size=0), "image_size must be a positive int"),
        (dict(layout="cubes"), "layout"),
        (dict(min_brain_fraction=1.5), "min_brain_fraction"),
        (dict(split_fractions=(0.5, 0.1, 0.1)), "add up to 1"),
    ],
)
def test_config_fields_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BratsConfig(name="x", **kwargs)


def test_prepare_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="manual_dir is required"):
        prepare()
    with pytest.raises(ValueError, match="phantom only"):
        prepare(tmp_path, num_subjects=3)
    with pytest.raises(ValueError, match="needs no manual_dir"):
        prepare(tmp_path, phantom=True)


@pytest.mark.parametrize(
    "config, total, examples, expected",
    [
        (dict(min_num_shards=8), 5 << 20, 300, 8),  # small split: the floor
        (dict(min_num_shards=8), 5 << 20, 5, 4),  # never more shards than examples
        (dict(min_num_shards=8), 5 << 20, 1, 1),
        (dict(min_num_shards=8), 6 << 30, 70000, 64),  # large split: TFDS's size rule
        (dict(min_shard_size=1 << 20), 20 << 20, 500, 16),  # the size given is honoured
        (dict(num_shards=3, min_num_shards=8), 5 << 20, 300, 3),  # explicit count wins
    ],
)
def test_shard_counts(config, total, examples, expected):
    assert SizedShardConfig(**config).get_number_shards(total, examples) == expected


def test_every_split_gets_several_shards(tmp_path, phantom_module):
    builder = prepare(phantom=True, image_size=16, num_subjects=6, data_dir=tmp_path, min_shards=4)
    assert builder.builder_config.name == "slices_16_min_shards4_num_subjects6"
    for split in builder.info.splits.values():
        assert split.num_shards == min(4, 2 ** int(np.log2(split.num_examples)))
    assert BratsConfig(name="x").min_shards == 8


def test_cli_prints_summary(dummy_dir, tmp_path, capsys):
    assert main(["--manual-dir", str(dummy_dir), "--config", "volumes", "--data-dir", str(tmp_path / "tfds")]) == 0
    out = capsys.readouterr().out
    assert "brats/volumes/1.0.0" in out
    assert "subjects found: 5, used: 5, rejected: 0, with seg: 4" in out
    assert "train" in out and "3 subjects" in out and "3 volumes" in out


def test_cli_reports_bad_subjects_and_exits_2(dummy_dir, tmp_path, capsys):
    (dummy_dir / "BraTS-GLI-00004-000" / "BraTS-GLI-00004-000-t2w.nii").unlink()
    assert main(["--manual-dir", str(dummy_dir), "--data-dir", str(tmp_path / "tfds")]) == 2
    err = capsys.readouterr().err
    assert "subject 'BraTS-GLI-00004-000'" in err and "BraTS-GLI-00004-000-t2w.nii[.gz]" in err


def test_cli_refuses_a_gzip_whose_crc_fails_naming_the_file(dummy_dir, tmp_path, capsys, flip_one_compressed_byte):
    damaged = dummy_dir / "BraTS2021_00001" / "BraTS2021_00001_t1ce.nii.gz"
    flip_one_compressed_byte(damaged)
    assert main(["--manual-dir", str(dummy_dir), "--config", "volumes", "--data-dir", str(tmp_path / "tfds")]) == 2
    err = capsys.readouterr().err
    assert f"file {damaged}: cannot read the file: corrupt gzip stream" in err and "subject 'BraTS2021_00001'" in err
    assert not tfds.builder("brats/volumes", data_dir=str(tmp_path / "tfds")).is_prepared()


@pytest.mark.parametrize(
    "argv",
    [[], ["--phantom", "--manual-dir", "x"], ["--manual-dir", "x", "--num-subjects", "3"]],
)
def test_cli_argument_errors(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2


def test_summary_reads_back_after_reload(dummy_dir, tmp_path):
    prepare(dummy_dir, config="volumes", data_dir=tmp_path)
    reloaded = tfds.builder("brats/volumes", data_dir=str(tmp_path))
    text = summary(reloaded)
    assert "subjects found: 5" in text
    assert reloaded.info.metadata["config"]["layout"] == "volumes"
    example = next(reloaded.as_dataset(split="test").as_numpy_iterator())
    assert example["affine"].shape == (4, 4) and example["images"].shape[-1] == 4
    assert np.all(example["images"][~example["brain_mask"]] == -1.0)


def test_cli_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as caught:
        prepare_module.main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--manual-dir",
        "--config",
        "--data-dir",
        "--skip-bad-subjects",
        "--phantom",
        "--num-subjects",
        "--image-size",
        "--seed",
    ):
        assert option in out


def test_the_same_data_dir_asked_for_another_source_is_refused_or_rebuilt(dummy_dir, tmp_path, capsys):
    import os
    import shutil

    data_dir = tmp_path / "tfds"
    first = prepare(dummy_dir, config="volumes", data_dir=data_dir)
    assert first.info.metadata["source_fingerprint"]["files"] == 24  # the 5 subjects' files
    other = tmp_path / "other_release"
    shutil.copytree(dummy_dir, other)
    shutil.rmtree(other / "BraTS2021_00001")  # another release: one subject fewer
    capsys.readouterr()  # TFDS's progress
    assert main(["--manual-dir", str(other), "--config", "volumes", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {data_dir}/brats/volumes/1.0.0 was prepared from {dummy_dir}, not from {other}; "
        f"pass --overwrite (overwrite=True) to rebuild it from {other}, or use another --data-dir\n"
    )
    # the same folder with a file changed since is another source too
    os.utime(dummy_dir / "BraTS2021_00001" / "BraTS2021_00001_t2.nii.gz", (1, 1))
    with pytest.raises(prepare_module.SourceChangedError, match="when it held other files"):
        prepare(dummy_dir, config="volumes", data_dir=data_dir)
    # --overwrite rebuilds from the folder asked for
    assert main(["--manual-dir", str(other), "--config", "volumes", "--data-dir", str(data_dir), "--overwrite"]) == 0
    assert "subjects found: 4, used: 4" in capsys.readouterr().out
    rebuilt = tfds.builder("brats/volumes", data_dir=str(data_dir))
    assert rebuilt.info.metadata["manual_dir"] == str(other)
    assert sorted(os.listdir(data_dir / "brats" / "volumes")) == ["1.0.0"]  # the old copy is gone
    assert prepare(other, config="volumes", data_dir=data_dir).info.metadata["subjects_found"] == 4  # a no-op now


def test_a_successful_prepare_removes_left_behind_incomplete_folders(dummy_dir, tmp_path):
    left = tmp_path / "tfds" / "brats" / "volumes" / "incomplete.K1LLED_1.0.0"
    left.mkdir(parents=True)
    (left / "brats-train.tfrecord-00000-of-00001").write_bytes(b"half")
    keep = tmp_path / "tfds" / "brats" / "volumes" / "notes.txt"
    keep.write_text("mine")
    prepare(dummy_dir, config="volumes", data_dir=tmp_path / "tfds")
    assert not left.exists() and keep.read_text() == "mine"


def test_an_empty_manual_dir_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["--manual-dir", str(tmp_path / "empty"), "--data-dir", str(tmp_path / "tfds")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: no BraTS subjects found under {tmp_path / 'empty'}") and err.count("\n") == 1
