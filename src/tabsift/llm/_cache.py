"""A persistent response cache: one SQLite file, safe for threads and processes."""

import hashlib
import json
import os
import sqlite3
import threading
import time
import weakref
from pathlib import Path

__all__ = ["ResponseCache"]

# Bumped when the key or the stored payload changes meaning, so old entries miss.
_KEY_VERSION = "tabsift.llm.cache/1"

# Request fields that decide the reply; anything else (timeouts, keys, headers) does not.
_KEY_FIELDS = (
    "model",
    "messages",
    "temperature",
    "seed",
    "n",
    "max_tokens",
    "logprobs",
    "top_logprobs",
    "response_format",
    "stop",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""


_OPEN_LOCK = threading.Lock()


def _open(path):
    """Open ``path`` in autocommit mode, switch it to WAL and create the table."""
    # isolation_level=None: autocommit, each statement is its own short transaction.
    # check_same_thread=False only so that close() may run in another thread;
    # each connection is otherwise used by the thread that opened it.
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 60000")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise OSError(
                f"the response cache {str(path)!r} could not be switched to SQLite's "
                f"WAL mode (got {mode!r}); put it on a local disk, not a network share."
            )
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(_SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


def _retry_locked(operation, *, deadline=30.0):
    """Run ``operation``, retrying while SQLite reports a lock it did not wait for."""
    start = time.monotonic()
    delay = 0.005
    while True:
        try:
            return operation()
        except sqlite3.OperationalError as err:
            message = str(err).lower()
            if "locked" not in message and "busy" not in message:
                raise
            if time.monotonic() - start > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _close_connections(connections, lock):
    with lock:
        mine = [conn for pid, conn in connections if pid == os.getpid()]
        connections.clear()
    # A connection inherited through fork belongs to the parent process: closing
    # it here could checkpoint or delete the parent's write-ahead log.
    for conn in mine:
        conn.close()


def _canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class ResponseCache:
    """Chat replies stored in a SQLite file, keyed by a hash of the request.

    The file uses SQLite's write-ahead log, so many readers and writers (threads
    or processes) can share it. Each entry holds the request that produced it
    and the reply's choices (text, finish reason, log-probabilities) and token
    usage; never the API key or HTTP headers.

    Parameters
    ----------
    path : str or path-like
        The SQLite file, created (with its folder) on first use.

    Attributes
    ----------
    path : pathlib.Path
        The SQLite file.

    See Also
    --------
    LLMClient : Its ``cache`` and ``cache_mode`` parameters use this class.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tabsift.llm import ResponseCache
    >>> cache = ResponseCache(pathlib.Path(tempfile.mkdtemp()) / "llm.sqlite")
    >>> key = ResponseCache.make_key({"model": "m", "messages": [], "n": 1})
    >>> cache.put(key, {"model": "m"}, {"choices": []})
    >>> cache.get(key)
    {'choices': []}
    >>> len(cache), key in cache
    (1, True)
    >>> cache.close()
    """

    def __init__(self, path):
        self.path = Path(os.fspath(path)).expanduser()
        self._local = threading.local()
        self._connections = []  # (pid, connection), mutated in place only
        self._conn_lock = threading.Lock()
        # Close this process's connections when the object is freed.
        weakref.finalize(self, _close_connections, self._connections, self._conn_lock)

    def __repr__(self):
        return f"{type(self).__name__}({str(self.path)!r})"

    # Connections are per thread and per process: sqlite3 connections must not
    # cross threads, and must never be inherited through fork.
    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opening is serialised within the process and retried across processes: switching
        # a new file to WAL and creating the table take locks for which SQLite may answer
        # "database is locked" at once, without waiting for its busy timeout.
        with _OPEN_LOCK:
            conn = _retry_locked(lambda: _open(self.path))
        self._local.conn = conn
        self._local.pid = os.getpid()
        with self._conn_lock:
            self._connections.append((os.getpid(), conn))
        return conn

    @staticmethod
    def make_key(request):
        """Return the cache key of a request: a sha256 over canonical JSON.

        Parameters
        ----------
        request : dict
            The request fields. Only ``model``, ``messages``, ``temperature``,
            ``seed``, ``n``, ``max_tokens``, ``logprobs``, ``top_logprobs``,
            ``response_format`` and ``stop`` enter the key.

        Returns
        -------
        key : str
            64 hexadecimal characters.

        Examples
        --------
        >>> from tabsift.llm import ResponseCache
        >>> a = ResponseCache.make_key({"model": "m", "n": 1, "timeout": 3})
        >>> a == ResponseCache.make_key({"n": 1, "model": "m"})
        True
        """
        fields = {name: request.get(name) for name in _KEY_FIELDS}
        blob = _canonical_json({"version": _KEY_VERSION, "request": fields})
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _execute(self, sql, params=()):
        conn = self._connection()
        return _retry_locked(lambda: conn.execute(sql, params))

    def get(self, key):
        """Return the stored reply for ``key``, or None on a miss."""
        row = self._execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key, request, response):
        """Store ``response`` (a JSON-serialisable dict) for ``key``.

        Parameters
        ----------
        key : str
            From :meth:`make_key`.
        request : dict
            The request, kept for inspection; only the fields that make the
            key are stored.
        response : dict
            The reply payload.
        """
        stored_request = {name: request.get(name) for name in _KEY_FIELDS}
        self._execute(
            "INSERT OR REPLACE INTO responses (key, model, request, response, created) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                key,
                request.get("model"),
                _canonical_json(stored_request),
                _canonical_json(response),
                time.time(),
            ),
        )

    def __contains__(self, key):
        row = self._execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone()
        return row is not None

    def __len__(self):
        return self._execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def clear(self):
        """Delete every entry."""
        self._execute("DELETE FROM responses")

    def close(self):
        """Close the connections this object opened in this process (reopened on next use)."""
        _close_connections(self._connections, self._conn_lock)
        self._local = threading.local()

    # Pickles and copies carry only the path; connections are reopened lazily.
    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.__init__(state["path"])

    def __deepcopy__(self, memo):
        return type(self)(self.path)
