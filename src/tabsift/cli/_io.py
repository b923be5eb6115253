"""Reading and writing the tables of a job: CSV, TSV or Parquet, checked and named.

Errors name the file and say how to fix it (:class:`tabsift.table.TableError`);
every table is written atomically.
"""

import hashlib
from pathlib import Path

from tabsift.utils import atomic_write

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


def _csv_header(path, sep):
    """Return the first row of a CSV/TSV file as a list of names (empty for an empty file)."""
    import csv

    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        return next(csv.reader(f, delimiter=sep), [])


def read_table(path, *, na_values=None, allow_empty=False):
    """Read a CSV, TSV or Parquet file into a DataFrame.

    Raises a :class:`~tabsift.table.TableError` naming the file when it is
    empty, has a header but no rows (unless ``allow_empty``), repeats a column
    name (pandas would rename the copy ``a.1`` silently), or cannot be parsed.
    ``na_values`` are extra tokens read as missing values.
    """
    import pandas as pd

    from tabsift.table import TableError, duplicate_names, quote_names

    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise TableError(f"input file {str(path)!r} does not exist; check the path.")
    if path.stat().st_size == 0:
        raise TableError(f"{path.name} is empty (0 bytes); a table needs a header row and data.")
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            header = [str(c) for c in frame.columns]
        else:
            sep = "\t" if suffix == ".tsv" else ","
            header = _csv_header(path, sep)
            # index_col=False: data rows ending in a separator (trailing commas) must not
            # turn the first column into the index and shift every other one.
            frame = pd.read_csv(
                path, sep=sep, na_values=list(na_values or ()), index_col=False
            )
    except pd.errors.EmptyDataError:
        raise TableError(
            f"{path.name} holds no table (no header row); check that it is a "
            f"{suffix.lstrip('.').upper()} file."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as err:
        raise TableError(f"{path.name} could not be read as a table: {err}") from None
    # unnamed columns (R's row names, trailing commas) become 'Unnamed: k', never twice
    twice = duplicate_names(name for name in header if name.strip())
    if twice:
        raise TableError(
            f"{path.name} names column(s) {quote_names(twice)} more than once; rename them so "
            "that every column has its own name."
        )
    if frame.shape[0] == 0 and not allow_empty:
        raise TableError(f"{path.name} has a header but no rows; a job needs data rows.")
    return frame


def write_table(frame, path):
    """Write ``frame`` atomically, in the format its suffix names."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        with atomic_write(path, "wb") as f:
            frame.to_parquet(f, index=False)
    else:
        with atomic_write(path, "w") as f:
            frame.to_csv(f, index=False, sep="\t" if suffix == ".tsv" else ",")


def file_digest(path, *, chunk=1 << 20):
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_target_table(path, target, *, na_values=None):
    """Read a job's table and check that it has the ``--target`` column."""
    from tabsift.table import TableError

    frame = read_table(path, na_values=na_values)
    if target not in frame.columns:
        raise TableError(
            f"target column {target!r} is not in {Path(path).name}; its columns are: "
            f"{', '.join(map(str, frame.columns))}. Pass the right name with --target."
        )
    return frame
