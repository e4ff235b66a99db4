"""The two voxel-wise baselines (`magan_keras.evaluation.baselines`) and their slice budget."""

import numpy as np
import pytest

from magan_keras.evaluation.baselines import DEFAULT_MAX_EXAMPLES, Baselines


def fake_pairs(count=4, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        mask = rng.uniform(size=(12, 12)) > 0.2
        a, b, c = rng.uniform(-0.9, 0.9, (3, 12, 12))
        flair = 0.5 * a - 0.3 * b + 0.1  # a linear function of t1 and t1ce
        images = np.stack([a, b, -c, flair], axis=-1)  # t2 = -c: unrelated to flair
        yield np.where(mask[..., None], images, -1.0), mask


def test_linear_baseline_recovers_a_linear_target():
    baselines = Baselines.fit(fake_pairs())
    weights, bias = baselines.linear_weights("flair", [1, 1, 1, 0])
    np.testing.assert_allclose(weights, [0.5, -0.3, 0.0, 0.0], atol=1e-9)
    assert bias == pytest.approx(0.1)
    images, mask = next(fake_pairs(1, seed=5))
    prediction = baselines.predict("linear", images, [1, 1, 1, 0], "flair", mask)
    np.testing.assert_allclose(prediction[mask], images[..., 3][mask], atol=1e-6)
    assert np.all(prediction[~mask] == -1)


def test_best_single_baseline_inverts_a_contrast_and_picks_the_best_source():
    rng = np.random.default_rng(4)
    a = rng.uniform(-1, 1, (4000,))
    images = np.stack([a, rng.uniform(-1, 1, a.shape), np.zeros_like(a), -a], axis=-1)
    baselines = Baselines(bins=64)
    baselines.update(images, np.ones(a.shape, bool))
    assert baselines.best_source("flair", [1, 1, 1, 0]) == 0  # t1 (= -flair), not t1ce (noise)
    prediction = baselines.predict("best_single", images, [1, 1, 1, 0], "flair", np.ones(a.shape, bool))
    assert np.abs(prediction - images[..., 3]).max() < 0.05
    assert baselines.best_source("flair", [0, 1, 1, 0]) in (1, 2)  # only these are available


def test_fit_reads_at_most_max_examples_slices_of_a_split(fake_split):
    split = fake_split(num_subjects=2, slices=6)  # 12 slices
    every = Baselines.fit(split)
    first = Baselines.fit(split, max_examples=5)
    masks = [f["brain_mask"] for f in split.as_numpy_iterator()]
    assert every.num_voxels == sum(int(m.sum()) for m in masks)
    assert first.num_voxels == sum(int(m.sum()) for m in masks[:5])


def test_the_slice_budget_is_the_training_runs():
    # The training run's report and `python -m magan_keras.evaluate` fit the baselines on the same
    # number of slices, so they print the same table on one model and split.
    assert DEFAULT_MAX_EXAMPLES == 2000


def test_unknown_method_and_unfitted_tables_are_named():
    baselines = Baselines.fit(fake_pairs(1))
    images, mask = next(fake_pairs(1))
    with pytest.raises(ValueError, match="unknown baseline 'cubic'"):
        baselines.predict("cubic", images, [1, 1, 1, 0], "flair", mask)
    with pytest.raises(ValueError, match="not fitted"):
        Baselines().lookup_table("t1", "flair")
    with pytest.raises(ValueError, match="no brain voxel"):
        Baselines.fit([(np.zeros((4, 4, 4)), np.zeros((4, 4), bool))])
