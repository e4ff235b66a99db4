"""brats_phantom: simulated BraTS-like subjects with the features of `brats` slices.

Subjects come from `tfds_brats.phantom.make_subject(seed, shape)`; from there
on the code is the `brats` builder's (`SubjectDatasetBuilder`): same
normalisation, slice selection, split by subject and features.

Example:
>>> import contextlib, io
>>> from tfds_brats.brats_phantom import Builder
>>> from tfds_brats.configs import PhantomConfig
>>> config = PhantomConfig(name="slices_16_num_subjects4", image_size=16, num_subjects=4)
>>> builder = Builder(config=config, data_dir="tfds")
>>> with contextlib.redirect_stdout(io.StringIO()):  # TFDS prints its progress
...     builder.download_and_prepare()
>>> builder.info.metadata["split_subjects"]["test"]
['phantom-0003']
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core.utils import tqdm_utils

from tfds_brats.builder_base import SubjectDatasetBuilder
from tfds_brats.configs import PhantomConfig
from tfds_brats.constants import MIN_BRAIN_FRACTION
from tfds_brats.splits import split_record


def subject_seed(seed: int, index: int) -> int:
    """Simulation seed of subject `index` in a dataset made with `seed`.

    Args:
        seed: int. The config's `seed`.
        index: int. The subject's index.

    Example:
    >>> subject_seed(0, 3) == subject_seed(0, 3) != subject_seed(1, 3)
    True
    """
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def subject_id(index: int) -> str:
    """Id of the phantom subject `index`.

    Args:
        index: int.

    Example:
    >>> subject_id(3)
    'phantom-0003'
    """
    return f"phantom-{index:04d}"


def _make_subject(seed: int, shape: tuple[int, int, int]):
    # Imported here: the simulator is only needed while generating.
    from tfds_brats import phantom  # pylint: disable=import-outside-toplevel

    return phantom.make_subject(seed, shape)


class Builder(SubjectDatasetBuilder):
    """DatasetBuilder for the simulated BraTS-like phantom.

    Args:
        **kwargs: `data_dir`, `config`, ... as any TFDS builder.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = [
        PhantomConfig(
            name=f"slices_{size}",
            image_size=size,
            description=(
                f"24 simulated subjects, {size}x{size}x{max(8, size // 2)} voxels, "
                f"axial slices {size}x{size}x4 with >= {MIN_BRAIN_FRACTION:.0%} brain."
            ),
        )
        for size in (32, 64, 128)
    ]
    DEFAULT_BUILDER_CONFIG_NAME = "slices_64"

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # nothing to download
        config = self.builder_config
        ids = [subject_id(i) for i in range(config.num_subjects)]
        if self.split_dirs:
            raise ValueError("the phantom takes no separate validation or test folder")
        split_ids = self._assign(ids)
        if not split_ids["train"]:
            raise ValueError("the train split is empty; give it subjects in the split file")
        split_ids = {split: members for split, members in split_ids.items() if members}
        self._record(
            split_source=split_record(config.split_fractions, config.split_seed, self.split_file),
            source="phantom",
            config=config.params(),
            subjects_found=len(ids),
            split_subjects=split_ids,
            subjects_with_seg=len(ids),
            rejected_subjects=[],
        )
        return {split: self._generate_examples(members, split) for split, members in split_ids.items()}

    def _generate_examples(self, subject_ids, split="train"):
        config = self.builder_config
        for name in tqdm_utils.tqdm(subject_ids, desc=f"{split}: subjects", unit=" subjects", leave=False):
            index = int(name.rsplit("-", 1)[1])
            subject = _make_subject(subject_seed(config.seed, index), config.volume_shape)
            seg = np.asarray(subject.seg, np.uint8)
            yield from self._subject_examples(
                name, subject.volumes, np.asarray(subject.brain_mask, bool), seg, np.eye(4), split
            )
