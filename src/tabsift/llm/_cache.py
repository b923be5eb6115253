"""A persistent response cache: one SQLite file, safe for threads and processes.

Rows are data read back from disk: each one is checked (JSON, shape, types)
before it is used, and a damaged row is a cache miss with a warning naming
the file, never an exception from deep inside a fit.
"""

import hashlib
import json
import os
import sqlite3
import threading
import time
import warnings
import weakref
from pathlib import Path

from tabsift.llm._errors import CacheMissError, LLMError
from tabsift.utils import is_finite_number

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
_COLUMNS = ["key", "model", "request", "response", "created"]
_SQLITE_MAGIC = b"SQLite format 3\x00"

_OPEN_LOCK = threading.Lock()

_START_OVER = "delete it to start over (its replies are requested again) or pass another cache path"


def _not_a_cache(path, what):
    return LLMError(
        f"the response cache {str(path)!r} is not a tabsift response cache: {what}; {_START_OVER}."
    )


def _database_error(path, err):
    """Return a clear LLMError naming the cache file, for an sqlite3 error."""
    message = str(err)
    lowered = message.lower()
    if "locked" in lowered or "busy" in lowered:
        return LLMError(
            f"the response cache {str(path)!r} stayed locked by another process or thread "
            f"({message}); retry when it is done, or pass another cache path."
        )
    if "unable to open" in lowered or "readonly" in lowered or "read-only" in lowered:
        return LLMError(
            f"the response cache {str(path)!r} cannot be opened for writing ({message}); "
            "check the folder's permissions, or pass another cache path."
        )
    return _not_a_cache(path, f"SQLite reports {message!r} (a damaged or foreign file)")


def _check_foreign(path):
    """Refuse, before SQLite touches it, a file that is not an SQLite database."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as err:
        raise LLMError(f"the response cache {str(path)!r} cannot be read ({err}).") from err
    if head and head != _SQLITE_MAGIC:
        raise _not_a_cache(path, "the file is not an SQLite database")


def _check_tables(conn, path):
    """Refuse a database holding anything but tabsift's ``responses`` table."""
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    foreign = sorted(name for name in tables if name != "responses")
    if foreign:
        raise _not_a_cache(path, f"it holds other tables ({', '.join(foreign[:5])})")
    if "responses" in tables:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(responses)")]
        if columns != _COLUMNS:
            raise _not_a_cache(
                path, f"its 'responses' table has the columns {columns}, expected {_COLUMNS}"
            )


def _open(path):
    """Open ``path`` in autocommit mode, switch it to WAL and create the table."""
    _check_foreign(path)
    # isolation_level=None: autocommit, each statement is its own short transaction.
    # check_same_thread=False only so that close() may run in another thread;
    # each connection is otherwise used by the thread that opened it.
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 60000")
        _check_tables(conn, path)
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
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _reject_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


_REPLY_REQUIRED = {"choices", "usage"}
_REPLY_OPTIONAL = {"model"}
_CHOICE_KEYS = {"text", "finish_reason", "logprobs"}
_CHOICE_OPTIONAL = {"reasoning"}
_USAGE_KEYS = {"prompt_tokens", "completion_tokens", "total_tokens"}


def _keys_problem(value, where, required, optional=frozenset()):
    if not isinstance(value, dict):
        return f"{where} is not a JSON object"
    unknown = sorted(str(k) for k in value if k not in required | optional)
    if unknown:
        return f"{where} has unknown key(s) {unknown[:5]}"
    missing = sorted(required - set(value))
    if missing:
        return f"{where} lacks the key(s) {missing}"
    return None


def _logprobs_problem(tokens, where):
    if not isinstance(tokens, list):
        return f"{where} is not a list"
    for t, entry in enumerate(tokens):
        at = f"{where}[{t}]"
        if not (isinstance(entry, list) and len(entry) == 3):
            return f"{at} is not a [token, logprob, alternatives] list"
        token, logprob, top = entry
        if not isinstance(token, str) or not is_finite_number(logprob):
            return f"{at} needs a string token and a finite log-probability"
        if not isinstance(top, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and is_finite_number(p[1])
            for p in top
        ):
            return f"{at}[2] is not a list of [token, logprob] pairs"
    return None


def reply_problem(payload):
    """Why ``payload`` is not a stored chat reply, as a JSON path and reason; None if it is.

    The shape is what :class:`~tabsift.llm.ChatResponse` stores: ``choices``
    (a non-empty list of ``{text, finish_reason, logprobs}``), ``usage``
    (three token counts) and ``model``.
    """
    problem = _keys_problem(payload, "$", _REPLY_REQUIRED, _REPLY_OPTIONAL)
    if problem:
        return problem
    if payload.get("model") is not None and not isinstance(payload["model"], str):
        return "$.model is not a string"
    choices = payload["choices"]
    if not isinstance(choices, list) or not choices:
        return "$.choices is not a non-empty list"
    for i, choice in enumerate(choices):
        where = f"$.choices[{i}]"
        problem = _keys_problem(choice, where, _CHOICE_KEYS, _CHOICE_OPTIONAL)
        if problem:
            return problem
        if not isinstance(choice["text"], str):
            return f"{where}.text is not a string"
        if choice.get("reasoning") is not None and not isinstance(choice["reasoning"], str):
            return f"{where}.reasoning is not a string"
        if choice["finish_reason"] is not None and not isinstance(choice["finish_reason"], str):
            return f"{where}.finish_reason is not a string"
        if choice["logprobs"] is not None:
            problem = _logprobs_problem(choice["logprobs"], f"{where}.logprobs")
            if problem:
                return problem
    problem = _keys_problem(payload["usage"], "$.usage", _USAGE_KEYS)
    if problem:
        return problem
    bad = sorted(k for k in _USAGE_KEYS if not _is_count(payload["usage"][k]))
    if bad:
        return f"$.usage.{bad[0]} is not a non-negative integer"
    return None


def _read_row(text):
    """``(payload, None)`` for a valid stored reply, else ``(None, reason)``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return None, "the stored reply is not UTF-8 text"
    if not isinstance(text, str):
        return None, f"the stored reply is a {type(text).__name__}, not JSON text"
    try:
        payload = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as err:
        return None, f"the stored reply is not valid JSON ({str(err)[:80]})"
    problem = reply_problem(payload)
    return (None, problem) if problem else (payload, None)


class ResponseCache:
    """Chat replies stored in a SQLite file, keyed by a hash of the request.

    The file uses SQLite's write-ahead log, so many readers and writers (threads
    or processes) can share it. Each entry holds the request that produced it
    and the reply's choices (text, finish reason, log-probabilities) and token
    usage; never the API key or HTTP headers.

    Every row is checked when it is read (valid JSON, the shape of a stored
    reply, the types of its fields). A damaged row is a miss, with a
    ``RuntimeWarning`` naming the file and the row: the client asks the
    server again and the fresh reply replaces it. A file that is not a
    tabsift response cache (not SQLite, or holding other tables) raises an
    :class:`LLMError` naming it, and is never modified.

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
    >>> reply = {"model": "m", "usage": {"prompt_tokens": 1, "completion_tokens": 1,
    ...          "total_tokens": 2}, "choices": [{"text": "hi", "finish_reason": "stop",
    ...          "logprobs": None}]}
    >>> cache.put(key, {"model": "m"}, reply)
    >>> cache.get(key)["choices"][0]["text"]
    'hi'
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
            try:
                conn = _retry_locked(lambda: _open(self.path))
            except sqlite3.DatabaseError as err:
                raise _database_error(self.path, err) from err
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

    def _execute(self, sql, params=(), *, fetch="all"):
        conn = self._connection()

        def run():
            cursor = conn.execute(sql, params)
            return cursor.fetchone() if fetch == "one" else cursor.fetchall()

        try:
            return _retry_locked(run)
        except sqlite3.DatabaseError as err:
            raise _database_error(self.path, err) from err

    def get(self, key, *, damaged="miss"):
        """Return the stored reply for ``key``, or None on a miss.

        Parameters
        ----------
        key : str
            From :meth:`make_key`.
        damaged : {"miss", "raise"}, default="miss"
            What a damaged row (not JSON, or not the shape of a stored reply)
            is: a miss, with a ``RuntimeWarning`` naming the file and the row
            (a fresh reply then replaces it), or a :class:`CacheMissError`
            naming them (for replay, where there is no fresh reply).

        Returns
        -------
        reply : dict or None
            The stored reply, checked.
        """
        if damaged not in ("miss", "raise"):
            raise ValueError(f"damaged must be 'miss' or 'raise', found {damaged!r}.")
        row = self._execute("SELECT response FROM responses WHERE key = ?", (key,), fetch="one")
        if row is None:
            return None
        payload, problem = _read_row(row[0])
        if problem is None:
            return payload
        where = f"the response cache {str(self.path)!r} holds a damaged row (key {key[:16]}...): "
        if damaged == "raise":
            raise CacheMissError(
                f"{where}{problem}. It cannot be replayed: record it again with "
                f"cache_mode='readwrite' and a reachable server, or {_START_OVER}.",
                key=key,
            )
        warnings.warn(
            f"{where}{problem}; it is treated as a miss and replaced by the next reply for "
            f"this request. If many rows are damaged, {_START_OVER}.",
            RuntimeWarning,
            stacklevel=2,
        )
        return None

    def put(self, key, request, response):
        """Store ``response`` (a chat reply, as :meth:`get` returns it) for ``key``.

        Parameters
        ----------
        key : str
            From :meth:`make_key`.
        request : dict
            The request, kept for inspection; only the fields that make the
            key are stored.
        response : dict
            The reply payload: ``choices``, ``usage`` and ``model``, as
            :class:`ChatResponse` stores it; anything else raises
            ``ValueError`` (it could not be read back).
        """
        problem = reply_problem(response)
        if problem:
            raise ValueError(f"not a chat reply, so it is not stored: {problem}.")
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
        row = self._execute("SELECT 1 FROM responses WHERE key = ?", (key,), fetch="one")
        return row is not None

    def __len__(self):
        return self._execute("SELECT COUNT(*) FROM responses", fetch="one")[0]

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
