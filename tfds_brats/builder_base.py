"""The part of the `brats` and `brats_phantom` builders they share.

Both turn subjects into examples with `tfds_brats.examples.subject_examples`
(same normalisation, slicing and features) and split subjects with
`tfds_brats.splits.assign_splits`; they differ only in where subjects come
from. What was done is recorded in `builder.info.metadata` (saved with the
dataset as `metadata.json`, reloaded with it): the config's parameters,
subjects found, the subjects of each split and the rejected subjects.

Shards: TFDS picks the number of shards of each split from its size: the
largest power of two (at most 1024) that keeps shards between
`DownloadConfig.min_shard_size` (64 MiB) and `max_shard_size` (1 GiB) and is
no larger than the number of examples. A BraTS validation split of a few
subjects (a few MB) would be one file, too few to spread over replicas or
workers, so these builders also ask for at least the config's `min_shards`
(8 by default; a power of two, fewer only when the split has fewer examples).
Large splits keep TFDS's size rule (e.g. ~60 shards of ~64-128 MiB for a
6 GB train split). A fixed `DownloadConfig.num_shards`, when the caller gives
one, wins (it is the same for every split and fails on a split with fewer
examples). tfds 4.9.10 computes the size rule in a classmethod that reads the
class defaults, silently ignoring `DownloadConfig.min_shard_size` /
`max_shard_size`; `SizedShardConfig` applies the sizes actually given.

Example:
>>> from tfds_brats.builder_base import SizedShardConfig, SubjectDatasetBuilder
>>> from tfds_brats.brats import Builder
>>> issubclass(Builder, SubjectDatasetBuilder)  # `_split_generators` / `_generate_examples` from a source
True
>>> SizedShardConfig(min_num_shards=8).get_number_shards(5 << 20, 300)  # a small split: 8 files
8
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core.utils import shard_utils

from tfds_brats import examples, planes, splits
from tfds_brats.features import features_for

HOMEPAGE = "https://www.synapse.org/brats"


@dataclasses.dataclass(frozen=True)
class SizedShardConfig(shard_utils.ShardConfig):
    """`ShardConfig` that honours its sizes and asks for a minimum shard count.

    The size rule is TFDS's `ShardConfig.calculate_number_shards`, with the
    instance's `min_shard_size` / `max_shard_size` instead of the class
    defaults; the result is raised to `min_num_shards` (rounded down to a
    power of two, and to at most the number of examples).

    Example:
    >>> SizedShardConfig(min_num_shards=8).get_number_shards(5 << 20, 300)
    8
    >>> SizedShardConfig(min_shard_size=1 << 20).get_number_shards(20 << 20, 500)
    16
    >>> SizedShardConfig(min_num_shards=8).get_number_shards(5 << 20, 5)  # at most one per example
    4
    """

    min_num_shards: int = 1

    def get_number_shards(self, total_size: int, num_examples: int, uses_precise_sharding: bool = True) -> int:
        """Shards for a split of `total_size` bytes and `num_examples` examples.

        Args:
            total_size: int. Bytes of the split.
            num_examples: int.
            uses_precise_sharding: bool. As TFDS's (False leaves 10 % headroom on the size).

        Example:
        >>> SizedShardConfig(num_shards=3).get_number_shards(1 << 30, 100)  # a fixed count wins
        3
        """
        if self.num_shards:
            return self.num_shards
        by_size = self._shards_by_size(total_size, num_examples, uses_precise_sharding)
        floor = 1
        while floor * 2 <= min(self.min_num_shards, num_examples):
            floor *= 2
        return max(by_size, floor)

    def _shards_by_size(self, total_size, num_examples, uses_precise_sharding) -> int:
        total_size += num_examples * self.overhead
        max_shards = total_size // self.min_shard_size
        max_shard_size = self.max_shard_size if uses_precise_sharding else 0.9 * self.max_shard_size
        min_shards = total_size // max_shard_size
        if min_shards <= 1024 <= max_shards and num_examples >= 1024:
            return 1024
        if min_shards > 1024:
            n = 2048
            while not (n >= min_shards and num_examples >= n):
                n += 1024
            return n
        for n in (512, 256, 128, 64, 32, 16, 8, 4, 2):
            if min_shards <= n <= max_shards and num_examples >= n:
                return n
        return 1


@dataclasses.dataclass(eq=False)
class _SizedShardsDownloadConfig(tfds.download.DownloadConfig):
    """`DownloadConfig` whose shard config is a `SizedShardConfig`."""

    min_num_shards: int = 1

    def get_shard_config(self) -> shard_utils.ShardConfig:
        return SizedShardConfig(
            num_shards=self.num_shards,
            min_shard_size=self.min_shard_size,
            max_shard_size=self.max_shard_size,
            min_num_shards=self.min_num_shards,
        )


class SubjectDatasetBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base of the BraTS builders: features, shard sizes, metadata, examples.

    Args:
        skip_bad_subjects: bool. leave out subjects that fail validation
            (listed in `info.metadata["rejected_subjects"]`) instead of
            stopping before anything is written.
        input_checks: bool. check each subject's images (`tfds_brats.checks`: contrasts as
            named, co-registered, skull-stripped) and reject those that fail.
        split_file: path of a CSV (`subject_id,split`) or JSON (`{subject: split}`) file that gives
            every subject's split (`tfds_brats.splits.read_split_file`); default: the config's
            `split_fractions` and `split_seed`.
        split_dirs: split name ("validation", "test") -> a folder whose subjects make that split
            (BraTS only); the main folder's subjects share the other splits.
        **kwargs: passed to `tfds.core.GeneratorBasedBuilder` (`data_dir`,
            `config`, `version`, `file_format`).
    """

    def __init__(
        self,
        *,
        skip_bad_subjects: bool = False,
        input_checks: bool = True,
        split_file=None,
        split_dirs: dict | None = None,
        **kwargs,
    ):
        self.skip_bad_subjects = bool(skip_bad_subjects)
        self.input_checks = bool(input_checks)
        self.split_file = None if split_file is None else os.fspath(split_file)
        self.split_dirs = {name: os.fspath(path) for name, path in (split_dirs or {}).items() if path is not None}
        super().__init__(**kwargs)
        self._original_state["skip_bad_subjects"] = self.skip_bad_subjects
        self._original_state["input_checks"] = self.input_checks
        self._original_state["split_file"] = self.split_file
        self._original_state["split_dirs"] = self.split_dirs

    def _assign(self, subject_ids, fractions=None) -> dict[str, list[str]]:
        """Split name -> ids: by `split_file` when given, else by `fractions` (default: the config's)."""
        config = self.builder_config
        if self.split_file is not None:
            mapping, _ = splits.read_split_file(self.split_file)
            return splits.splits_from_file(subject_ids, mapping, self.split_file)
        return splits.assign_splits(subject_ids, fractions or config.split_fractions, config.split_seed)

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        return self.dataset_info_from_configs(
            features=features_for(config.layout, config.image_size, config.context_slices),
            homepage=HOMEPAGE,
            metadata=tfds.core.MetadataDict(),
        )

    def _download_and_prepare(self, dl_manager, download_config):
        values = {field.name: getattr(download_config, field.name) for field in dataclasses.fields(download_config)}
        values["min_num_shards"] = self.builder_config.min_shards
        super()._download_and_prepare(dl_manager, _SizedShardsDownloadConfig(**values))

    def _record(self, **entries) -> None:
        """Stores JSON-friendly entries in `info.metadata`."""
        self.info.metadata.update(entries)

    def _subject_examples(
        self,
        subject_id: str,
        volumes: dict[str, np.ndarray],
        brain_mask: np.ndarray,
        seg: np.ndarray | None,
        affine: np.ndarray,
        split: str = "train",
    ) -> Iterator[tuple[str, dict]]:
        config = self.builder_config
        options = {
            "layout": config.layout,
            "image_size": config.image_size,
            "canvas_size": config.canvas_size,
            "min_brain_fraction": config.min_brain_fraction,
            "context_slices": config.context_slices,
        }
        if config.layout == "slices" and split == "train" and config.planes != planes.DEFAULT_PLANES:
            # Other orientations for training only: validation and test stay axial volumes' slices.
            return planes.plane_examples(subject_id, volumes, brain_mask, seg, affine, planes=config.planes, **options)
        return examples.subject_examples(subject_id, volumes, brain_mask, seg, affine, **options)
