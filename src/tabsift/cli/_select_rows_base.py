"""What a ``select-rows`` method is given and returns: the pool, and a selection.

See "Adding a method" in :mod:`tabsift.cli._select_rows`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabsift.cli._io import read_table
from tabsift.table import TableError, quote_names


@dataclass(frozen=True)
class Method:
    """One ``--method`` of ``select-rows`` (see the module docstring)."""

    help: str
    select: Callable
    add_arguments: Callable | None = None


@dataclass
class Selection:
    """What a method's ``select`` returns (see the module docstring)."""

    indices: Any
    weights: Any = None
    rows: Any = None
    summary: dict = field(default_factory=dict)
    preparation: list = field(default_factory=list)
    n_pool: int | None = None


class PoolTable:
    """A CSV/TSV/Parquet pool, read whole or in chunks of ``chunksize`` rows."""

    def __init__(self, path, chunksize, na_values=()):
        self.path = Path(path)
        self.chunksize = chunksize
        self.na_values = list(na_values)

    @property
    def is_parquet(self):
        return self.path.suffix.lower() in (".parquet", ".pq")

    def columns(self):
        """Return the pool's column names, from its header (or Parquet schema) only."""
        if self.is_parquet:
            import pyarrow.parquet as pq

            return [str(c) for c in pq.read_schema(self.path).names]
        import pandas as pd

        sep = "\t" if self.path.suffix.lower() == ".tsv" else ","
        return [str(c) for c in pd.read_csv(self.path, sep=sep, nrows=0).columns]

    def read(self):
        """Return the whole pool as a DataFrame (:func:`read_table`: errors name the file)."""
        return read_table(self.path, na_values=self.na_values)

    def chunks(self):
        """Iterate over the pool in DataFrames of ``chunksize`` rows (the last may be shorter)."""
        if self.is_parquet:
            import pyarrow.parquet as pq

            with pq.ParquetFile(self.path) as f:
                for batch in f.iter_batches(batch_size=self.chunksize):
                    yield batch.to_pandas()
        else:
            import pandas as pd

            sep = "\t" if self.path.suffix.lower() == ".tsv" else ","
            with pd.read_csv(
                self.path, sep=sep, chunksize=self.chunksize, na_values=self.na_values
            ) as reader:
                yield from reader

    def take(self, indices):
        """Rows at ``indices`` (sorted ascending), read chunk by chunk."""
        import numpy as np
        import pandas as pd

        indices = np.asarray(indices)
        parts, offset = [], 0
        for chunk in self.chunks():
            lo, hi = np.searchsorted(indices, [offset, offset + len(chunk)])
            if hi > lo:
                parts.append(chunk.iloc[indices[lo:hi] - offset])
            offset += len(chunk)
        return pd.concat(parts, ignore_index=True)


def check_pool_columns(names, columns, option, source):
    unknown = [n for n in names if n not in columns]
    if unknown:
        raise TableError(
            f"{option} names column(s) {quote_names(unknown)} that {source} does not have; its "
            f"columns are: {quote_names(columns, limit=30)}."
        )
