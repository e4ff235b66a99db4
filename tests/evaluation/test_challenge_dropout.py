"""`brasyn_dropped_contrasts` against the organisers' `dropout_modality.py` logic, re-run as written."""

import numpy as np
import pytest

from magan_keras.evaluation.challenge import brasyn_dropped_contrasts


def organisers_dropout(folder_list):
    """The organisers' script's choice, with the global NumPy RNG as they use it."""
    state = np.random.get_state()
    try:
        np.random.seed(123456)
        modality_list = ["t1c", "t1n", "t2f", "t2w"]
        drop_index = np.random.randint(0, 4, size=len(folder_list))
        return {ff: modality_list[drop_index[count]] for count, ff in enumerate(folder_list)}
    finally:
        np.random.set_state(state)


@pytest.mark.parametrize("count", [1, 5, 219])
def test_matches_the_organisers_script(count):
    folders = sorted(f"BraTS-GLI-{k:05d}-000" for k in range(count))
    assert brasyn_dropped_contrasts(folders) == organisers_dropout(folders)


def test_order_matters_and_global_rng_is_untouched():
    folders = [f"BraTS-GLI-{k:05d}-000" for k in range(40)]
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    forward = brasyn_dropped_contrasts(folders)
    assert np.array_equal(np.random.get_state()[1], before)
    backward = brasyn_dropped_contrasts(folders[::-1])
    assert backward == organisers_dropout(folders[::-1]) and backward != forward
    assert set(forward.values()) == {"t1c", "t1n", "t2f", "t2w"}


def test_repeated_names_are_refused():
    with pytest.raises(ValueError, match="repeat"):
        brasyn_dropped_contrasts(["a", "a"])
