"""Every `>>>` example in the studies' docstrings runs (they are not in the wheel, so
tests/test_docstrings.py does not collect them)."""

import doctest
import importlib

import pytest

MODULES = (
    "studies.outputs",
    "studies.ablation",
    "studies.blur_sensitivity",
    "studies.ssim_terms",
    "studies.input_checks",
    "studies.uncertainty",
    "studies.real_loso",
    "studies.volume_tables",
    "studies.through_plane",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, name, globs={}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"
