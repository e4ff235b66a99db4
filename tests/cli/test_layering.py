"""Library code never imports the command line: importing any module outside `magan_keras.cli`,
the `python -m magan_keras.<command>` entry modules included, loads no `magan_keras.cli` module."""

import subprocess
import sys

PROBE = """
import importlib, importlib.util, pathlib, sys
import magan_keras
root = pathlib.Path(magan_keras.__file__).parent
needs = {"magan_keras.models.steps.jax": "jax", "magan_keras.models.steps.torch": "torch"}
names = []
for path in sorted(root.rglob("*.py")):  # files, not pkgutil's walk: that imports every package, cli too
    parts = ("magan_keras", *path.relative_to(root).with_suffix("").parts)
    name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    if parts[1] != "cli" and (name not in needs or importlib.util.find_spec(needs[name]) is not None):
        names.append(name)
for name in names:
    importlib.import_module(name)
print(len(names), sorted(m for m in sys.modules if m.startswith("magan_keras.cli")))
"""


def test_no_library_module_imports_the_command_line():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=300)
    count, loaded = result.stdout.strip().split(" ", 1)
    assert int(count) >= 40  # the walk found the package, the entry modules among them
    assert loaded == "[]"
