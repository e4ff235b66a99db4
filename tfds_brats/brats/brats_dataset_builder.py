"""brats: BraTS multi-contrast brain MRI (t1, t1ce, t2, flair) from local NIfTI files.

Configs: `slices_64`, `slices_128`, `slices_256` (one example per axial slice,
S x S x 4) and `volumes` (one example per subject, whole volumes). A config
made at run time works too, e.g.
`Builder(config=BratsConfig(name="slices_96", image_size=96))`.

Example:
>>> import contextlib, io
>>> import tensorflow_datasets as tfds
>>> import tfds_brats.brats  # registers "brats"
>>> from tfds_brats.brats.make_dummy_data import write_dummy_data
>>> _ = write_dummy_data("BraTS2021")  # stands in for the downloaded folder
>>> builder = tfds.builder("brats/slices_64", data_dir="tfds")
>>> with contextlib.redirect_stdout(io.StringIO()):  # TFDS prints its progress
...     builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir="BraTS2021"))
>>> example = next(iter(builder.as_dataset(split="train")))
>>> example["images"].shape, builder.info.metadata["subjects_found"]
(TensorShape([64, 64, 4]), 5)
"""

from __future__ import annotations

import os

import tensorflow_datasets as tfds
from tensorflow_datasets.core.utils import tqdm_utils

from tfds_brats import intensity, splits, subjects, validation
from tfds_brats.builder_base import SubjectDatasetBuilder
from tfds_brats.configs import BratsConfig
from tfds_brats.constants import BRATS_CANVAS_SIZE, MIN_BRAIN_FRACTION


class Builder(SubjectDatasetBuilder):
    """DatasetBuilder for BraTS (manual download).

    Args:
        skip_bad_subjects: bool. See `SubjectDatasetBuilder`.
        **kwargs: `data_dir`, `config`, ... as any TFDS builder.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release: slices at 64/128/256 px and whole volumes.",
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    BraTS is distributed under its own data terms and cannot be downloaded
    automatically. Register for a BraTS challenge on Synapse
    (https://www.synapse.org/brats; earlier editions via
    https://www.med.upenn.edu/cbica/brats/) and download its training data,
    e.g. BraTS 2021 (RSNA-ASNR-MICCAI, files `<id>_t1.nii.gz`, `_t1ce`, `_t2`,
    `_flair`, `_seg`) or BraTS 2023+ (files `<id>-t1n.nii.gz`, `-t1c`, `-t2w`,
    `-t2f`, `-seg`). Extract the archives into one folder (sub-folders at any
    depth are fine; one folder per subject as distributed) and pass it as the
    manual directory:

        python -m tfds_brats.prepare --manual-dir /path/to/BraTS --config slices_128

    or `tfds.download.DownloadConfig(manual_dir="/path/to/BraTS")`.
    Segmentations are optional (validation data has none).
    """

    BUILDER_CONFIGS = [
        BratsConfig(
            name=f"slices_{size}",
            layout="slices",
            image_size=size,
            description=(
                f"Axial slices with >= {MIN_BRAIN_FRACTION:.0%} brain, {size}x{size}x4: 240x240 centre-padded "
                f"with -1 to {BRATS_CANVAS_SIZE}x{BRATS_CANVAS_SIZE}"
                + ("" if size == BRATS_CANVAS_SIZE else f", then resized to {size}")
                + " (bilinear images, nearest mask and seg)."
            ),
        )
        for size in (64, 128, 256)
    ] + [
        BratsConfig(
            name="volumes",
            layout="volumes",
            description=(
                "Whole subjects, images [X, Y, Z, 4] (240x240x155 for BraTS) in canonical "
                "RAS+ orientation, with the canonical affine; for 3-D evaluation."
            ),
        )
    ]
    DEFAULT_BUILDER_CONFIG_NAME = "slices_128"

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config = self.builder_config
        manual_dir = dl_manager.manual_dir
        found = subjects.find_subjects(manual_dir)
        if self.split_file is not None and self.split_dirs:
            raise ValueError("give a split file or separate validation/test folders, not both")
        extra = {name: subjects.find_subjects(path) for name, path in self.split_dirs.items()}
        main_ids = sorted({files.subject_id for files in found})
        for name, files_found in extra.items():
            shared = sorted(set(main_ids) & {files.subject_id for files in files_found})
            if shared:
                raise ValueError(
                    f"subjects {shared} are both in {manual_dir} and in the {name} folder {self.split_dirs[name]}"
                )
        passed, rejected = validation.validate_subjects(
            found + [files for files_found in extra.values() for files in files_found],
            layout=config.layout,
            min_brain_fraction=config.min_brain_fraction,
            progress=lambda items: tqdm_utils.tqdm(items, desc="Checking subjects", unit=" subjects", leave=False),
            input_checks=self.input_checks,
        )
        if rejected and not self.skip_bad_subjects:
            raise validation.BadSubjectsError(rejected, total=len(found))
        # Split all ids found (not only those that passed) so that fixing or
        # removing one subject does not move the others between splits.
        fractions = splits.fractions_without(config.split_fractions, list(extra)) if extra else None
        split_ids = self._assign(main_ids, fractions)
        for name, files_found in extra.items():
            split_ids[name] = sorted({files.subject_id for files in files_found})
        if not split_ids["train"]:
            raise ValueError(
                f"the train split is empty ({len(main_ids)} subjects in {manual_dir}); "
                "give it subjects in the split file or a larger train fraction"
            )
        by_id = {report.subject_id: report for report in passed}
        split_reports = {}
        for split, ids in split_ids.items():
            if not ids:
                continue
            usable = [by_id[i] for i in ids if i in by_id]
            if not usable:
                raise ValueError(
                    f"split '{split}' has no usable subject: all of {ids} were rejected "
                    "(see the reasons above); add subjects or change split_fractions"
                )
            split_reports[split] = usable
        self._record(
            source="brats",
            manual_dir=os.path.abspath(os.fspath(manual_dir)),
            source_fingerprint=subjects.source_fingerprint(found, manual_dir),
            split_source=splits.split_record(
                config.split_fractions,
                config.split_seed,
                self.split_file,
                {
                    name: {"path": os.path.abspath(path), "fingerprint": subjects.source_fingerprint(extra[name], path)}
                    for name, path in self.split_dirs.items()
                },
            ),
            config=config.params(),
            subjects_found=len(found),
            split_subjects={s: [r.subject_id for r in reports] for s, reports in split_reports.items()},
            subjects_with_seg=sum(report.has_seg for report in passed),
            rejected_subjects=[{"subject_id": e.subject_id, "file": e.path, "reason": e.reason} for e in rejected],
            input_warnings=[{"subject_id": r.subject_id, "warning": w} for r in passed for w in r.warnings],
        )
        return {split: self._generate_examples(reports, split) for split, reports in split_reports.items()}

    def _generate_examples(self, reports, split="train"):
        for report in tqdm_utils.tqdm(reports, desc=f"{split}: subjects", unit=" subjects", leave=False):
            volumes, seg, geometry = subjects.load_subject(report.files)
            mask = intensity.brain_mask(volumes.values())
            yield from self._subject_examples(report.subject_id, volumes, mask, seg, geometry.affine, split)
