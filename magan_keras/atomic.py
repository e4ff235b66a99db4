"""Atomic file writes: every file the package writes goes through `replacing`.

A file is written under a temporary name in its own folder and renamed over the target with
`os.replace` only once complete, so a kill, a full disk or an exception mid-write leaves the
previous file (or nothing), never a truncated one. The temporary name starts with `.` and holds
`.tmp`, so it is easy to recognise; it is removed when the write fails. The new file gets the
permissions a plain `open(path, "w")` would give it (0644 under the usual umask).

Example:
>>> import os, tempfile
>>> from magan_keras import atomic
>>> folder = tempfile.mkdtemp()
>>> path = atomic.write_text(os.path.join(folder, "notes.md"), "# hello\\n")
>>> open(path).read()
'# hello\\n'
>>> with atomic.replacing(os.path.join(folder, "table.csv")) as temporary:
...     with open(temporary, "w") as f:
...         _ = f.write("a,b\\n1,2\\n")
>>> sorted(os.listdir(folder))
['notes.md', 'table.csv']
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import pathlib
import shutil
import tempfile
from glob import escape as glob_escape


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary_name(path: pathlib.Path) -> pathlib.Path:
    # The suffix is kept, so writers that pick a format by extension (Keras, matplotlib,
    # nibabel) write the right one.
    suffixes = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffixes}", dir=path.parent)
    os.close(handle)
    return pathlib.Path(name)


@contextlib.contextmanager
def replacing(path: os.PathLike | str):
    """Yields a temporary path beside `path`; on success it replaces `path`, on error it is removed.

    Args:
        path: str or path-like. The file to write; its folder is created when missing.

    Example:
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> with replacing(target) as temporary:
    ...     _ = pathlib.Path(temporary).write_text("done")
    >>> open(target).read()
    'done'
    """
    path = pathlib.Path(os.fspath(path))
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(path)
    try:
        yield temporary
        if temporary.is_file():
            os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            if temporary.is_dir():
                shutil.rmtree(temporary)
            else:
                temporary.unlink()
        raise


def write_text(path: os.PathLike | str, text: str) -> pathlib.Path:
    """Writes `text` to `path` atomically; returns the path.

    Args:
        path: str or path-like.
        text: str.

    Example:
    >>> import os, tempfile
    >>> write_text(os.path.join(tempfile.mkdtemp(), "a.txt"), "x").name
    'a.txt'
    """
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return pathlib.Path(path)


def write_json(path: os.PathLike | str, value) -> pathlib.Path:
    """Writes `value` as indented JSON (with a final newline) atomically; returns the path.

    Args:
        path: str or path-like.
        value: anything `json.dumps` takes.

    Example:
    >>> import json, os, tempfile
    >>> path = write_json(os.path.join(tempfile.mkdtemp(), "a.json"), {"k": 1})
    >>> json.loads(path.read_text())
    {'k': 1}
    """
    return write_text(path, json.dumps(value, indent=2) + "\n")


def write_csv(path: os.PathLike | str, columns, rows) -> pathlib.Path:
    """Writes `rows` (dicts) under the header `columns` atomically; returns the path.

    Args:
        path: str or path-like.
        columns: sequence of column names.
        rows: iterable of dicts keyed by column name (missing keys are left empty).

    Example:
    >>> import os, tempfile
    >>> path = write_csv(os.path.join(tempfile.mkdtemp(), "t.csv"), ["a", "b"], [{"a": 1, "b": 2}])
    >>> path.read_text().split()
    ['a,b', '1,2']
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, buffer.getvalue())


def save_figure(figure, path: os.PathLike | str, dpi: int = 100) -> pathlib.Path:
    """Writes a matplotlib `Figure` as a PNG atomically; returns the path.

    Args:
        figure: `matplotlib.figure.Figure`.
        path: str or path-like ending in `.png`.
        dpi: int. Resolution.

    Example:
    >>> import os, tempfile
    >>> from matplotlib.figure import Figure
    >>> save_figure(Figure(figsize=(1, 1)), os.path.join(tempfile.mkdtemp(), "f.png")).suffix
    '.png'
    """
    with replacing(path) as temporary:
        figure.savefig(temporary, dpi=dpi, bbox_inches="tight")
    return pathlib.Path(path)


def save_model(model, path: os.PathLike | str) -> pathlib.Path:
    """`model.save(path)` atomically (Keras writes `.keras` files in place); returns the path.

    Args:
        model: a `keras.Model`.
        path: str or path-like ending in `.keras`.

    Example:
    >>> import os, tempfile, keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> save_model(model, os.path.join(tempfile.mkdtemp(), "m.keras")).name
    'm.keras'
    """
    if not os.fspath(path).endswith(".keras"):
        raise ValueError(f"a model file must end in .keras, got {os.fspath(path)!r}")
    path = pathlib.Path(os.fspath(path))
    checksum = checksum_path(path)
    with replacing(path) as temporary:
        model.save(temporary, overwrite=True)
        digest = file_sha256(temporary)
        # The old checksum goes before the new model arrives: a kill in between leaves a model
        # without one (it loads with a note), never a good model refused for a stale checksum.
        with contextlib.suppress(FileNotFoundError):
            checksum.unlink()
    write_text(checksum, f"{digest}  {path.name}\n")
    return path


CHECKSUM_SUFFIX = ".sha256"


def checksum_path(path: os.PathLike | str) -> pathlib.Path:
    """Where `save_model` keeps the SHA-256 of a model file: beside it, `<name>.sha256`.

    Args:
        path: str or path-like. The model file.

    Example:
    >>> checksum_path("run/model.keras").name
    'model.keras.sha256'
    """
    path = pathlib.Path(os.fspath(path))
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def file_sha256(path: os.PathLike | str) -> str:
    """The SHA-256 of a file's bytes, in hex.

    Args:
        path: str or path-like.

    Example:
    >>> import os, tempfile
    >>> file_sha256(write_text(os.path.join(tempfile.mkdtemp(), "a.txt"), "abc"))[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ChecksumError(ValueError):
    """A file whose bytes do not match the checksum saved beside it; the message names both."""


def verify_checksum(path: os.PathLike | str) -> str | None:
    """Checks a model file against the checksum `save_model` wrote beside it.

    Args:
        path: str or path-like. The model file.

    Returns:
        None when it matches; a one-line note when the file has no checksum beside it (a model
        saved before checksums were written, or by plain `model.save`): it is not verified.

    Raises:
        ChecksumError: the file's SHA-256 differs from the recorded one, or the checksum file
            is unreadable.

    Example:
    >>> import os, tempfile, keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> path = save_model(model, os.path.join(tempfile.mkdtemp(), "m.keras"))
    >>> verify_checksum(path) is None
    True
    >>> with open(path, "ab") as stream:
    ...     _ = stream.write(b"x")
    >>> verify_checksum(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    magan_keras.atomic.ChecksumError: model file .../m.keras does not match its checksum ...
    """
    path = pathlib.Path(os.fspath(path))
    checksum = checksum_path(path)
    if not checksum.is_file():
        return f"model file {path} has no checksum beside it ({checksum.name}): its integrity is not verified"
    try:
        recorded = checksum.read_text(encoding="utf-8").split()[0].lower()
    except (OSError, UnicodeDecodeError, IndexError) as error:
        raise ChecksumError(f"checksum file {checksum} is unreadable ({type(error).__name__})") from error
    actual = file_sha256(path)
    if actual != recorded:
        raise ChecksumError(
            f"model file {path} does not match its checksum {checksum.name} (sha256 {actual[:12]}... "
            f"instead of {recorded[:12]}...): the file is damaged; restore it or retrain"
        )
    return None


@contextlib.contextmanager
def new_directory(path: os.PathLike | str):
    """Yields a temporary folder beside `path`, renamed to `path` on success (which must not exist).

    For outputs that are folders (a SavedModel version): a reader never sees a partial one.

    Args:
        path: str or path-like. The folder to create.

    Example:
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "1")
    >>> with new_directory(target) as temporary:
    ...     _ = (temporary / "saved_model.pb").write_text("")
    >>> os.listdir(target)
    ['saved_model.pb']
    """
    path = pathlib.Path(os.fspath(path))
    if path.exists():
        raise FileExistsError(f"{path} already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~_umask())
        os.rename(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def remove_leftovers(path: os.PathLike | str) -> list:
    """Deletes the temporaries a killed write of `path` left beside it; returns what went.

    `replacing` and `new_directory` write under `.<name>.<random>.tmp...` names beside the
    target and remove them on any error, but not when the process is killed. Call this once
    the same target was written successfully (no other writer of it can still be running).

    Args:
        path: str or path-like. The file or folder just written.

    Example:
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(folder, ".1.k1lled.tmp"))  # an export killed mid-write
    >>> with new_directory(os.path.join(folder, "1")):
    ...     pass
    >>> [os.path.basename(p) for p in remove_leftovers(os.path.join(folder, "1"))], os.listdir(folder)
    (['.1.k1lled.tmp'], ['1'])
    """
    path = pathlib.Path(os.fspath(path))
    removed = []
    for entry in sorted(path.parent.glob(f".{glob_escape(path.name)}.*.tmp*")):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def check_output_path(raw, kind="output", error=ValueError) -> str:
    """The one guard of an output folder's path: refuses empty, root-like, linked or file paths.

    Returns the absolute path. Nothing is created or deleted here.

    Args:
        raw: str. The path as the user gave it.
        kind: str. What the folder is for, in the message (`"run"`, `"search"`).
        error: the exception class to raise (the caller's own, so its CLI reports it).

    Example:
    >>> check_output_path("", "run")
    Traceback (most recent call last):
    ...
    ValueError: output_dir must not be empty
    >>> check_output_path("/", "run")
    Traceback (most recent call last):
    ...
    ValueError: output_dir '/' is /, the root, home or current folder; choose a run folder inside it
    """
    if not isinstance(raw, str) or not raw.strip():
        raise error("output_dir must not be empty")
    absolute = os.path.abspath(os.path.expanduser(raw))
    risky = {os.path.abspath(os.sep), os.path.abspath(os.path.expanduser("~")), os.path.abspath(os.getcwd())}
    if absolute in risky or os.path.dirname(absolute) == absolute:
        raise error(
            f"output_dir {raw!r} is {absolute}, the root, home or current folder; choose a {kind} folder inside it"
        )
    if os.path.islink(absolute):
        raise error(f"output_dir {absolute} is a symbolic link; give the folder it points to or another one")
    if os.path.lexists(absolute) and not os.path.isdir(absolute):
        raise error(f"output_dir {absolute} exists and is not a folder; choose another --output-dir")
    return absolute
