"""Atomic file writes: write a temporary file in the same folder, then rename it.

An interrupted job therefore leaves either the old file or the new one, never a
half-written file.
"""

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


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
