"""Job folders: what a job may write in its ``--out`` folder, and knowing when it is done.

A job folder (``--out``) is the job's as far as tabsift wrote it, and no further:
``.tabsift-manifest.json`` lists every file (and folder) tabsift wrote there,
recorded before the file is first written. :func:`start_job` refuses a folder
that holds a file of the job's output names that is not in the manifest, checks
that the folder is writable and removes the temporary files a killed run left,
all before any computation; :func:`remove_job_files` deletes only manifest-listed
files.
"""

import fnmatch
import hashlib
import json
import os
import tempfile
from pathlib import Path, PurePosixPath

from tabsift.cli._io import file_digest
from tabsift.utils import atomic_write_text, set_write_guard, stale_temp_files

# What each job writes in its --out folder besides job.json, relative to the folder ("*" as
# in glob, "{ext}" the input table's suffix). Before a job computes anything, a file of
# these names that tabsift did not write (no entry in the folder's manifest) makes it
# refuse to start; any other file the job writes is checked when it is written.
_REPORT_FILES = ("report/index.html", "report/results.json", "report/figure-*.png")
JOB_OUTPUTS = {
    "select-features": ("selected{ext}", "scores.csv", *_REPORT_FILES),
    "fit-tree": (
        "tree.txt", "tree.json", "tree.png", "history.csv", "checkpoint.*", *_REPORT_FILES,
    ),
    "fit-rules": ("rule.txt", "rule.json", "explanation.csv", *_REPORT_FILES),
    "correct-residuals": (
        "corrections.json", "base_model.*", "trace.csv", "predictions.csv", *_REPORT_FILES,
    ),
    "select-rows": (
        "selected{ext}", "indices.csv", "summary.json",
        ".work/fingerprint.txt", ".work/model.*", ".work/scores.*", *_REPORT_FILES,
    ),
}

MANIFEST_NAME = ".tabsift-manifest.json"
_MANIFEST_FORMAT = "tabsift job manifest"
_MANIFEST_SCHEMA = 1
_MANIFEST_MAX_BYTES = 16 << 20
_WRITE_CHECK = ".tabsift-write-check"
_SHA256_HEX = frozenset("0123456789abcdef")


class JobFolderError(ValueError):
    """A job's output folder cannot be used.

    It is not writable, or it holds files of the job's names that tabsift did not write (they
    are never replaced or deleted).
    """


def _relative(out, path):
    """``path`` relative to ``out`` as a POSIX string, or None when it is outside ``out``."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(out))
    if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return None
    return Path(rel).as_posix()


def _safe_entry(entry):
    """Return True for a manifest entry naming a path inside the folder (no '..', not absolute)."""
    if not isinstance(entry, str) or not entry or "\x00" in entry:
        return False
    pure = PurePosixPath(entry)
    parts_ok = all(part not in ("", ".", "..") for part in pure.parts)
    return parts_ok and not pure.is_absolute() and pure.as_posix() == entry


class _Manifest:
    """The files and folders tabsift wrote in a job folder: ``<out>/.tabsift-manifest.json``.

    An entry is recorded *before* its file is first written, so an interrupted job
    never leaves a file of its own unrecorded.
    """

    def __init__(self, out, files=(), folders=()):
        self.out = Path(out)
        self.files = set(files)
        self.folders = set(folders)

    @property
    def path(self):
        return self.out / MANIFEST_NAME

    @classmethod
    def load(cls, out):
        """Return the manifest of ``out``, or None when it has none."""
        path = Path(out) / MANIFEST_NAME
        if not path.exists() and not path.is_symlink():
            return None

        def damaged(problem):
            return JobFolderError(
                f"{path} is not a manifest tabsift can read ({problem}), so tabsift cannot "
                f"tell the files it wrote in {out} from yours. Choose another --out, or move "
                f"away the files tabsift wrote there and delete {MANIFEST_NAME}."
            )

        try:
            if path.is_symlink() or not path.is_file():
                raise damaged("it is not a plain file")
            if path.stat().st_size > _MANIFEST_MAX_BYTES:
                raise damaged(f"it is larger than {_MANIFEST_MAX_BYTES >> 20} MiB")
            data = json.loads(path.read_text(encoding="utf-8"))
        except JobFolderError:
            raise
        except (OSError, ValueError, RecursionError) as err:
            raise damaged(f"{type(err).__name__}: {err}") from None
        if not isinstance(data, dict) or data.get("format") != _MANIFEST_FORMAT:
            raise damaged(f"expected a JSON object with \"format\": {_MANIFEST_FORMAT!r}")
        if data.get("schema") != _MANIFEST_SCHEMA or isinstance(data.get("schema"), bool):
            raise damaged(
                f"field 'schema' is {data.get('schema')!r}; this tabsift reads schema "
                f"{_MANIFEST_SCHEMA}"
            )
        lists = {}
        for key in ("files", "folders"):
            value = data.get(key)
            if not isinstance(value, list) or not all(_safe_entry(e) for e in value):
                raise damaged(
                    f"field {key!r} must be a list of relative paths inside the folder, "
                    f"got {str(value)[:80]!r}"
                )
            lists[key] = value
        return cls(out, lists["files"], lists["folders"])

    def save(self):
        previous = set_write_guard(None)  # the manifest is not an output of the job
        try:
            atomic_write_text(
                self.path,
                json.dumps(
                    {
                        "format": _MANIFEST_FORMAT,
                        "schema": _MANIFEST_SCHEMA,
                        "files": sorted(self.files),
                        "folders": sorted(self.folders),
                    },
                    indent=1,
                ),
            )
        finally:
            set_write_guard(previous)

    def inside(self, rel):
        """Return the absolute path of entry ``rel``, or None when a link leads it out of the folder."""
        root = os.path.realpath(self.out)
        real = os.path.realpath(self.out / rel)
        return Path(real) if real.startswith(root + os.sep) else None

    def prune(self):
        """Forget files that no longer exist (a job may delete its own, e.g. a checkpoint)."""
        gone = {f for f in self.files if not os.path.lexists(self.out / f)}
        self.files -= gone
        return bool(gone)


class _JobGuard:
    """Called before every atomic write during a job.

    It records the files the job writes in ``out`` and refuses to replace one tabsift did not
    write.
    """

    def __init__(self, manifest):
        self.manifest = manifest

    def __call__(self, path):
        manifest = self.manifest
        rel = _relative(manifest.out, path)
        if rel is None or rel == MANIFEST_NAME or rel in manifest.files:
            return
        if os.path.lexists(path):
            raise JobFolderError(
                f"{path} was not written by tabsift (it is not in {manifest.path}); tabsift "
                "does not replace files it did not write. Choose another --out, or move "
                "the file away."
            )
        # Folders the write creates are tabsift's: it may remove them once empty.
        parts = PurePosixPath(rel).parts[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if not os.path.lexists(manifest.out / folder):
                manifest.folders.add(folder)
        manifest.files.add(rel)
        manifest.save()


_active_guard = None


def _our_job_json(out):
    """Return True when ``out/job.json`` is a job marker tabsift wrote (a 64-hex fingerprint)."""
    try:
        data = json.loads((Path(out) / "job.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    fingerprint = data.get("fingerprint") if isinstance(data, dict) else None
    return (
        isinstance(fingerprint, str)
        and len(fingerprint) == 64
        and set(fingerprint) <= _SHA256_HEX
    )


def _job_patterns(command, input_path):
    ext = Path(input_path).suffix.lower()
    return ["job.json", *(p.replace("{ext}", ext) for p in JOB_OUTPUTS.get(command, ()))]


def _existing_outputs(out, patterns):
    """Return what stands in ``out`` where a job with these output ``patterns`` writes.

    Returns ``(outputs, blockers)``: the entries whose names the job writes, and
    files standing where one of its output folders must be (relative paths).
    """
    outputs, blockers = set(), set()
    for pattern in patterns:
        folder, _, name = pattern.rpartition("/")
        parts = folder.split("/") if folder else []
        blocker = next(
            (
                sub
                for sub in ("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
                if os.path.lexists(out / sub) and not (out / sub).is_dir()
            ),
            None,
        )
        if blocker is not None:
            blockers.add(blocker)
            continue
        base = out / folder if folder else out
        if not base.is_dir():
            continue
        for entry in base.iterdir():
            if fnmatch.fnmatchcase(entry.name, name):
                outputs.add(f"{folder}/{entry.name}" if folder else entry.name)
    return sorted(outputs), sorted(blockers)


def _check_writable(out):
    """Create ``out`` if missing and check that a file can be created in it."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f"{_WRITE_CHECK}.", suffix=".tmp", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        if isinstance(err, (NotADirectoryError, FileExistsError)):
            reason = "a part of the path is a file, not a folder"
        raise JobFolderError(
            f"cannot write the results in the output folder {str(out)!r}: {reason}. Choose "
            "another --out (a folder you can write in), or make this one writable."
        ) from None


def _quote_paths(rels, limit=8):
    shown = [repr(rel) for rel in rels[:limit]]
    if len(rels) > limit:
        shown.append(f"and {len(rels) - limit} more")
    return ", ".join(shown)


def start_job(command, settings, input_path, out, *, force):
    """Begin the job ``command`` in ``out``; return its fingerprint, or None when it is done.

    A finished job with the same settings and input bytes is reported and not
    redone unless ``force``. Otherwise, before any computation, the folder is
    created if missing and checked to be writable; a file there that the job
    would write but tabsift did not (no entry in the folder's manifest, see
    :data:`MANIFEST_NAME`) makes the job refuse to start, whatever ``force``
    says; temporary files an interrupted run left for the job's outputs are
    removed; and the folder's completion marker goes, so an interruption never
    leaves it next to a mix of old and new outputs. Until :func:`mark_finished`,
    every file the job writes atomically is recorded in the manifest, and
    replacing one tabsift did not write is refused.

    Raises
    ------
    JobFolderError
        The folder is not writable or holds files of the job's names that
        tabsift did not write.
    """
    global _active_guard
    end_job()  # a guard left by an earlier job of this process that failed
    fingerprint = job_fingerprint(command, settings, input_path)
    if not force and finished_job(out, fingerprint):
        print(f"tabsift {command}: {out} already holds this job's results (--force recomputes)")
        return None
    out = Path(out)
    _check_writable(out)
    patterns = _job_patterns(command, input_path)
    manifest = _Manifest.load(out)
    existing, blockers = _existing_outputs(out, patterns)
    if manifest is None:
        # A folder written before tabsift kept a manifest: its job.json vouches for it.
        adopted = existing if _our_job_json(out) else []
        manifest = _Manifest(out, adopted, {p.rsplit("/", 1)[0] for p in adopted if "/" in p})
    foreign = sorted({*blockers, *(rel for rel in existing if rel not in manifest.files)})
    if foreign:
        raise JobFolderError(
            f"the output folder {str(out)!r} holds {_quote_paths(foreign)}, which "
            f"tabsift {command} would write but tabsift did not write (they are not in "
            f"{MANIFEST_NAME}); tabsift never replaces or deletes files it did not write. "
            "Choose another --out, or move these files away."
        )
    for rel in sorted(manifest.files):
        if manifest.inside(rel) is None:
            raise JobFolderError(
                f"{out / rel} (listed in {manifest.path}) leads outside {str(out)!r} through a "
                "link; tabsift does not write through links. Choose another --out."
            )
    manifest.prune()
    # Temporary files of a killed run: only tabsift's own names, for this job's outputs.
    names_by_folder = {}
    for entry in [*patterns, *manifest.files, MANIFEST_NAME, _WRITE_CHECK]:
        folder, _, name = entry.rpartition("/")
        names_by_folder.setdefault(folder, set()).add(name)
    for folder, names in names_by_folder.items():
        if folder and manifest.inside(folder) is None:
            continue
        for temp in stale_temp_files(out / folder if folder else out, names):
            temp.unlink(missing_ok=True)
    manifest.save()
    (out / "job.json").unlink(missing_ok=True)
    _active_guard = _JobGuard(manifest)
    set_write_guard(_active_guard)
    return fingerprint


def _manifest_of(out):
    """Return the manifest of ``out``: the running job's, else the one on disk."""
    if _active_guard is not None and os.path.abspath(_active_guard.manifest.out) == (
        os.path.abspath(out)
    ):
        return _active_guard.manifest
    return _Manifest.load(out)


def remove_job_files(out, folder):
    """Delete the files tabsift wrote under ``out/folder`` (per the manifest).

    The folder itself goes too when tabsift created it and nothing else is left in it. Files that are not in the manifest (the user's) stay untouched.
    """
    out = Path(out)
    manifest = _manifest_of(out)
    if manifest is None:
        return
    prefix = folder.rstrip("/") + "/"
    for rel in sorted(f for f in manifest.files if f.startswith(prefix)):
        target = manifest.inside(rel)
        if target is not None and (target.is_file() or target.is_symlink()):
            target.unlink()
        manifest.files.discard(rel)
    for rel in sorted((f for f in manifest.folders if f == folder or f.startswith(prefix)),
                      key=lambda f: f.count("/"), reverse=True):
        path = manifest.inside(rel)
        try:
            if path is not None:
                path.rmdir()
        except OSError:  # not empty: something else is in it
            continue
        manifest.folders.discard(rel)
    manifest.save()


def job_fingerprint(command, settings, input_path):
    """Return a fingerprint of a job: the command, its settings and its input's bytes."""
    blob = json.dumps(
        {"command": command, "settings": settings, "input": file_digest(input_path)},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def finished_job(out, fingerprint):
    """Return True when ``out`` holds the complete results of the job ``fingerprint``.

    A job writes ``job.json`` (its fingerprint) last, after every other output, so its
    presence with a matching fingerprint means the outputs are complete and current.
    """
    marker = Path(out) / "job.json"
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("fingerprint") == fingerprint


def mark_finished(out, fingerprint, summary):
    """Write ``job.json``: the last file of a job, written atomically.

    The job's write guard (see :func:`start_job`) ends here, and the manifest
    forgets the files the job deleted itself.
    """
    atomic_write_text(
        Path(out) / "job.json",
        json.dumps({"fingerprint": fingerprint, **summary}, indent=2, default=str),
    )
    manifest = _manifest_of(out)
    if manifest is not None and manifest.prune():
        manifest.save()
    end_job()


def end_job():
    """End the write guard of the running job, if any (a finished or failed job).

    :func:`mark_finished` calls it; after a failed job the guard stays until the
    next :func:`start_job` replaces it, unless the caller ends it here.
    """
    global _active_guard
    if _active_guard is not None:
        set_write_guard(None)
        _active_guard = None
