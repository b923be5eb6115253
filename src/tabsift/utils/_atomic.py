"""Atomic file writes: write a temporary file in the same folder, then rename it.

An interrupted job therefore leaves either the old file or the new one, never a
half-written file. What a killed process can leave is the temporary file itself,
``.<name>.<random characters>.tmp`` next to the target:
:func:`stale_temp_files` finds them so that the next run can remove them.
"""

import fnmatch
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

# ".<target>.<random>.tmp"; tempfile.mkstemp's random part is made of [a-z0-9_].
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]+\.tmp$")

# Called with each destination before it is written (see set_write_guard).
_write_guard = None


def _default_file_mode():
    # mkstemp creates files readable by the owner only; results are meant to be shared
    # like any file the user writes, so apply the usual 0o666 & ~umask.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()


@contextmanager
def atomic_write(path, mode="w", *, encoding="utf-8"):
    """Open a temporary file that replaces ``path`` when the block ends without error.

    Parameters
    ----------
    path : str or path-like
        The destination. Its folder is created if missing.
    mode : {"w", "wb"}, default="w"
        Text or binary mode.
    encoding : str, default="utf-8"
        Text encoding (text mode only).

    Yields
    ------
    file : file object
        Write to it; on an exception the temporary file is removed and
        ``path`` is left untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tabsift.utils import atomic_write
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_write(folder / "out.txt") as f:
    ...     _ = f.write("done")
    >>> (folder / "out.txt").read_text()
    'done'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode={mode!r} is not supported; use 'w' or 'wb'.")
    path = Path(path)
    if _write_guard is not None:
        _write_guard(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _FILE_MODE)
        kwargs = {} if mode == "wb" else {"encoding": encoding, "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path, text, *, encoding="utf-8"):
    """Write ``text`` to ``path`` atomically. See :func:`atomic_write`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tabsift.utils import atomic_write_text
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "notes" / "out.txt"
    >>> atomic_write_text(path, "done")
    >>> path.read_text()
    'done'
    """
    with atomic_write(path, "w", encoding=encoding) as f:
        f.write(text)


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically. See :func:`atomic_write`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tabsift.utils import atomic_write_bytes
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.bin"
    >>> atomic_write_bytes(path, b"done")
    >>> path.read_bytes()
    b'done'
    """
    with atomic_write(path, "wb") as f:
        f.write(data)


def set_write_guard(guard):
    """Have ``guard(path)`` called before every :func:`atomic_write` to ``path``.

    The command-line jobs use it to record each file they write in their
    output folder, and to refuse to replace a file they did not write: the
    guard raises, and the destination is left untouched.

    Parameters
    ----------
    guard : callable or None
        Called with the destination as a :class:`pathlib.Path`, before its
        folder is created; whatever it raises propagates. None removes the
        guard.

    Returns
    -------
    previous : callable or None
        The guard it replaces.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tabsift.utils import atomic_write_text
    >>> from tabsift.utils._atomic import set_write_guard
    >>> seen = []
    >>> previous = set_write_guard(lambda path: seen.append(path.name))
    >>> atomic_write_text(pathlib.Path(tempfile.mkdtemp()) / "out.txt", "done")
    >>> _ = set_write_guard(previous)
    >>> seen
    ['out.txt']
    """
    global _write_guard
    previous, _write_guard = _write_guard, guard
    return previous


def stale_temp_files(folder, names):
    """Return the temporary files an interrupted :func:`atomic_write` left in ``folder``.

    Only files named as :func:`atomic_write` names them
    (``.<target>.<random letters, digits, _>.tmp``) whose target matches one of
    ``names`` are returned, so a file of the user's such as ``.notes.tmp`` is
    never taken for one.

    Parameters
    ----------
    folder : str or path-like
        Where to look (not recursively). A missing folder holds none.
    names : iterable of str
        Target file names, with ``*`` and ``?`` as in :mod:`fnmatch`.

    Returns
    -------
    paths : list of pathlib.Path
        Sorted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tabsift.utils._atomic import stale_temp_files
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in (".out.csv.k2x9_0ab.tmp", ".notes.tmp", "out.csv"):
    ...     _ = (folder / name).write_text("")
    >>> [p.name for p in stale_temp_files(folder, ["out.csv"])]
    ['.out.csv.k2x9_0ab.tmp']
    """
    folder = Path(folder)
    patterns = list(names)
    try:
        entries = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or not entry.is_file() or entry.is_symlink():
            continue
        if any(fnmatch.fnmatchcase(match["target"], pattern) for pattern in patterns):
            found.append(entry)
    return sorted(found)
