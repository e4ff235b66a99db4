"""Every `>>>` example in the installed packages' docstrings runs and prints what it shows.

One test per module of `magan_keras`, `tfds_brats` and `tuning`. The per-backend train-step
modules are collected only when their backend's package is installed (`jax`, `torch`: the
`backends` extra), since importing them needs it. Examples run in a fresh temporary working
directory, so anything they write lands there.
"""

import doctest
import importlib
import importlib.util
import pathlib
import pkgutil

import pytest

PACKAGES = ("magan_keras", "tfds_brats", "tuning")
NEEDS = {"magan_keras.models.steps.jax": "jax", "magan_keras.models.steps.torch": "torch"}
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules():
    names = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            needed = NEEDS.get(info.name)
            if needed and importlib.util.find_spec(needed) is None:
                continue
            names.append(info.name)
    return sorted(names)


MODULES = _modules()


def test_every_package_module_is_collected():
    # Guards the walk itself: a module the walk misses would have its examples unchecked.
    files = {
        ".".join(path.with_suffix("").parts).removesuffix(".__init__")
        for package in PACKAGES
        for path in pathlib.Path(importlib.import_module(package).__path__[0]).parent.joinpath(package).rglob("*.py")
        for path in [path.relative_to(pathlib.Path(importlib.import_module(package).__path__[0]).parent)]
    }
    missing = sorted(name for name in files - set(MODULES) if name not in NEEDS)
    assert not missing


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in finder.find(module, name):  # each example sees its module's names, as doctest does
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"
