"""The subjects an evaluation scores, from a prepared split or from a BraTS folder.

- A prepared split (`load_split`, `subjects_from_split`): the stored slices of each subject
  (grouped by `subject_id`, ordered by `slice_index`) form its volume, at the stored size (which
  must be the model's); the builder already left out slices with too little brain. BraSyn's truth
  is the stored slice on the unit scale.
- A BraTS folder (`subjects_from_folder`): each subject is read and normalised as the builders do
  it, kept at its own resolution (the model's synthesis is made as `magan_keras.synthesize` makes
  it); BraSyn's truth is the scanner volume itself, and the per-slice protocol uses the slices the
  builder would keep (at least `min_brain_fraction` brain, the model's saved value in
  `evaluate_model`).

Example:
>>> import numpy as np
>>> import tensorflow as tf
>>> from magan_keras.evaluation.subjects import subjects_from_split
>>> mask = np.ones((3, 8, 8), bool)
>>> split = tf.data.Dataset.from_tensor_slices({
...     "images": np.zeros((3, 8, 8, 4), np.float32), "brain_mask": mask,
...     "subject_id": ["b", "a", "b"], "slice_index": np.array([7, 0, 3], np.int32)})
>>> [(s.subject_id, s.images.shape) for s in subjects_from_split(split)]
[('a', (8, 8, 1, 4)), ('b', (8, 8, 2, 4))]
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Iterator

import numpy as np

from magan_keras.modalities import BRATS_MODALITIES
from tfds_brats.constants import MIN_BRAIN_FRACTION


@dataclasses.dataclass
class SubjectData:
    """One subject to score.

    Attributes:
        subject_id: str.
        images: float32 `[X, Y, Z, M]` normalised (model scale, background -1).
        brain_mask: bool `[X, Y, Z]`.
        seg: uint8 `[X, Y, Z]` or None.
        scanner: dict contrast -> `[X, Y, Z]` scanner-unit volumes (BraSyn's truth), or None
            to use the normalised images on the unit scale.
        slice_indices: int `[K]` slices of the per-slice protocol.
        model_size: bool. The slices already have the model's size (a prepared split).
        geometry: `tfds_brats.subjects.Geometry` of the truth files (a BraTS folder), or None.
        folder: pathlib.Path of the subject's files (a BraTS folder), or None.

    Example:
    >>> from magan_keras.evaluation.subjects import SubjectData
    >>> import numpy as np
    >>> mask = np.ones((8, 8, 2), bool)
    >>> subject = SubjectData("s1", np.zeros((8, 8, 2, 4), np.float32), mask, None, None,
    ...                       np.arange(2), model_size=True)
    >>> subject.slice_indices.tolist()
    [0, 1]
    """

    subject_id: str
    images: np.ndarray
    brain_mask: np.ndarray
    seg: np.ndarray | None
    scanner: dict | None
    slice_indices: np.ndarray
    model_size: bool
    geometry: object = None
    folder: object = None


def subjects_from_split(examples, modalities=BRATS_MODALITIES, max_subjects=None) -> list:
    """Groups a prepared split's slices into `SubjectData` (slices ordered by `slice_index`).

    Holds the split's images in memory (M x 4 bytes per pixel: about 256 KB per 128-px slice).

    Args:
        examples: `tf.data.Dataset` of unbatched slice features (`images`, `brain_mask`,
            `subject_id`, `slice_index`; `seg` and `has_seg` when there are segmentations).
        modalities: contrast names in channel order.
        max_subjects: int or None. Keep the first subjects by sorted id.

    Raises:
        ValueError: the split lacks a feature, has another number of contrasts, or is empty.

    Example: see the module docstring.
    """
    needed = ("images", "brain_mask", "subject_id", "slice_index")
    spec = examples.element_spec
    missing = [k for k in needed if k not in spec]
    if missing:
        raise ValueError(f"the split lacks the features {missing} (a tfds_brats slices split has them)")
    groups: dict[str, dict[str, list]] = {}
    keys = [k for k in ("images", "brain_mask", "seg", "has_seg", "slice_index") if k in spec]
    for example in examples.map(lambda f: {k: f[k] for k in keys + ["subject_id"]}).as_numpy_iterator():
        subject_id = example["subject_id"]
        subject_id = subject_id.decode() if isinstance(subject_id, bytes) else str(subject_id)
        group = groups.setdefault(subject_id, {k: [] for k in keys})
        for key in keys:
            group[key].append(example[key])
    result = []
    for subject_id in sorted(groups)[:max_subjects]:
        group = groups[subject_id]
        order = np.argsort(np.asarray(group["slice_index"]))
        images = np.stack([group["images"][i] for i in order], axis=2).astype(np.float32)
        if images.shape[-1] != len(modalities):
            raise ValueError(f"split images have {images.shape[-1]} contrasts, expected {len(modalities)}")
        mask = np.stack([group["brain_mask"][i] for i in order], axis=2).astype(bool)
        has_seg = "seg" in group and bool(np.any(group.get("has_seg", [True])))
        seg = np.stack([group["seg"][i] for i in order], axis=2).astype(np.uint8) if has_seg else None
        result.append(SubjectData(subject_id, images, mask, seg, None, np.flatnonzero(mask.any(axis=(0, 1))), True))
    if not result:
        raise ValueError("the split holds no example")
    return result


def subjects_from_folder(
    data_dir, max_subjects=None, min_brain_fraction=MIN_BRAIN_FRACTION, input_checks=True, subject_ids=None
) -> Iterator:
    """Yields each complete BraTS subject of a folder as `SubjectData` (read lazily).

    Normalised as the builders do (`tfds_brats.examples.normalise_subject`, brain mask from all
    four contrasts); the per-slice protocol uses the slices with at least `min_brain_fraction`
    brain, the builder's rule.

    Args:
        data_dir: str or path-like. A folder of BraTS subjects (either release's naming).
        max_subjects: int or None. Stop after this many subjects.
        min_brain_fraction: float. Brain fraction of a slice the per-slice protocol scores
            (`evaluate_model` passes the model's saved value).
        input_checks: bool. Run `tfds_brats.checks` on each subject (contrast identity,
            co-registration, skull stripping) and stop on a failure.
        subject_ids: collection of ids, or None. Only these subjects (e.g. a split file's test
            subjects, `tfds_brats.splits.splits_from_file`).

    Raises:
        tfds_brats.subjects.SubjectError: an incomplete or bad subject (named).
        tfds_brats.checks.InputCheckError: a subject failing the input checks (named).
        tfds_brats.subjects.NoSubjectsError: no BraTS-named file under `data_dir`.

    Example:
    >>> from magan_keras.evaluation.subjects import subjects_from_folder
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> _ = write_fake_subject("brats/case0", "case0", shape=(20, 20, 10))
    >>> [(s.subject_id, s.images.shape) for s in subjects_from_folder("brats")]
    [('case0', (20, 20, 10, 4))]
    """
    from tfds_brats import examples, intensity, subjects  # pylint: disable=import-outside-toplevel

    found = subjects.find_subjects(data_dir)
    if subject_ids is not None:
        wanted = set(subject_ids)
        found = [files for files in found if files.subject_id in wanted]
    for count, files in enumerate(found):
        if max_subjects is not None and count >= max_subjects:
            return
        volumes, seg, geometry = subjects.load_subject(files)
        if input_checks:
            from tfds_brats import checks  # pylint: disable=import-outside-toplevel

            checks.check_volumes(
                volumes,
                subject_id=files.subject_id,
                paths=geometry.paths,
                affine=geometry.affine,
                header=getattr(geometry.reference, "header", None),
            ).raise_for_errors()
        mask = intensity.brain_mask(volumes.values())
        try:
            images, _, _ = examples.normalise_subject(volumes, mask)
        except intensity.ConstantImageError as error:
            raise subjects.SubjectError(files.subject_id, files.folder, str(error)) from error
        yield SubjectData(
            files.subject_id,
            images,
            mask,
            seg,
            dict(volumes),
            examples.usable_slice_indices(mask, min_brain_fraction),
            False,
            geometry,
            files.folder,
        )


def load_split(dataset, split, data_dir=None):
    """A prepared split as a `tf.data.Dataset`.

    Args:
        dataset: a registered name with config (`"brats/slices_128"`,
            `"brats_phantom/slices_64"`) or the folder of a prepared dataset version
            (`~/tensorflow_datasets/brats_phantom/slices_32_num_subjects8/1.0.0`).
        split: str, e.g. "test".
        data_dir: TFDS data folder for a name (default: TFDS's).

    Raises:
        ValueError: unknown dataset or split, or not prepared (with the command to prepare it).

    Example:
    >>> from magan_keras.evaluation.subjects import load_split
    >>> load_split("brats_phantom/slices_32", "test", data_dir="empty")
    Traceback (most recent call last):
    ...
    ValueError: --dataset brats_phantom/slices_32 is not prepared under ...; prepare it with ... first
    """
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

    import tfds_brats.brats  # pylint: disable=import-outside-toplevel,unused-import  (registers the builders)
    import tfds_brats.brats_phantom  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import

    path = pathlib.Path(os.path.expanduser(os.fspath(dataset)))
    try:
        if path.is_dir():
            builder = tfds.builder_from_directory(os.fspath(path))
        else:
            builder = tfds.builder(os.fspath(dataset), data_dir=data_dir)
    except Exception as error:  # TFDS raises several types for unknown names
        raise ValueError(
            f"--dataset {dataset}: cannot open it ({type(error).__name__}: {error}); give a "
            "prepared dataset's folder, or prepare it with `python -m tfds_brats.prepare`"
        ) from error
    if not builder.info.splits:
        raise ValueError(
            f"--dataset {dataset} is not prepared under {builder.data_dir}; prepare it with "
            "`python -m tfds_brats.prepare` first"
        )
    if split not in builder.info.splits:
        raise ValueError(f"--dataset {dataset} has no split {split!r}; it has {sorted(builder.info.splits)}")
    return builder.as_dataset(split=split, shuffle_files=False)
