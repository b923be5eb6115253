"""What ``ImportanceResampler`` accepts as pool and target, and how it reads them.

A pool is a DataFrame, a 2-D array or a sequence of texts (the paper's
setting, one text per row); the target is the same kind of data with the
pool's columns. Both become DataFrames with string column names, checked
with messages that say how to fix them.
"""

import numbers

import numpy as np
from sklearn.utils.validation import validate_data


def _is_text_vector(X):
    """Return a 1-D sequence of strings: the paper's setting, one text per row."""
    import pandas as pd

    if isinstance(X, pd.Series):
        return True
    if isinstance(X, (list, tuple)):
        return len(X) > 0 and all(isinstance(v, str) or v is None for v in X[:100])
    if isinstance(X, np.ndarray) and X.ndim == 1:
        return X.dtype.kind in "OUT" and all(isinstance(v, str) or v is None for v in X[:100])
    return False


def _quote(names, limit=8):
    items = [repr(str(n)) for n in names[:limit]]
    if len(names) > limit:
        items.append(f"{len(names) - limit} more")
    return ", ".join(items)


class ResamplerInputs:
    """The pool, target and fitted-frame readers of :class:`ImportanceResampler`."""

    def _pool_frame(self, X, *, reset):
        """Return the pool as a DataFrame (validated with sklearn's validate_data)."""
        import pandas as pd

        if _is_text_vector(X):
            name = X.name if isinstance(X, pd.Series) and X.name is not None else "text"
            X = pd.DataFrame({str(name): np.asarray(X, dtype=object)})
        if hasattr(X, "columns") and hasattr(X, "iloc"):
            validate_data(self, X, reset=reset, skip_check_array=True)
            # Columns are referred to by their string names everywhere.
            frame = X if all(isinstance(c, str) for c in X.columns) else X.rename(columns=str)
        else:
            array = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False)
            frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
            if array.dtype.kind == "O":
                frame = frame.infer_objects()
        if len(frame) == 0:
            raise ValueError(
                "The pool X is empty (0 rows); ImportanceResampler needs rows to select from."
            )
        return frame

    def _target_frame(self, pool):
        """Return the target as a DataFrame with the pool's column names; sets feature_columns_."""
        import pandas as pd

        target = self.target
        if _is_text_vector(target):
            if pool.shape[1] != 1:
                raise ValueError(
                    f"target is a sequence of texts but the pool has {pool.shape[1]} columns; "
                    "give the target as a DataFrame with the pool's column names, or a pool "
                    "of texts."
                )
            target = pd.DataFrame({pool.columns[0]: np.asarray(target, dtype=object)})
        elif hasattr(target, "columns"):
            pool_names = [str(c) for c in pool.columns]
            missing = [str(c) for c in target.columns if str(c) not in pool_names]
            if missing:
                raise ValueError(
                    f"target columns {_quote(missing)} are not in the pool X (its columns: "
                    f"{_quote(pool_names)}). Give the pool these columns or drop them from "
                    "the target."
                )
            target = target.rename(columns=str)
        else:
            array = np.asarray(target)
            if array.ndim != 2:
                raise ValueError(
                    f"target must be 2-D (rows x columns), a DataFrame or a sequence of texts; "
                    f"got an array of shape {array.shape}."
                )
            if array.shape[1] != pool.shape[1]:
                raise ValueError(
                    f"target has {array.shape[1]} columns but the pool X has {pool.shape[1]}; "
                    "array columns are matched by position, so both need the same columns."
                )
            target = pd.DataFrame(array, columns=pool.columns)
            if array.dtype.kind == "O":
                target = target.infer_objects()
        if len(target) == 0:
            raise ValueError("target is empty (0 rows); give at least one target row.")
        self.feature_columns_ = [str(c) for c in target.columns]
        return target

    def _n_to_select(self, n_pool):
        if isinstance(self.n_samples, numbers.Integral):
            k = int(self.n_samples)
        else:
            k = max(1, int(round(self.n_samples * n_pool)))
        if k > n_pool and not self.replacement:
            raise ValueError(
                f"n_samples={self.n_samples} asks for {k} rows but the pool has only {n_pool}; "
                "lower n_samples or set replacement=True."
            )
        return k

    def _fitted_frame(self, X):
        """``X`` as a frame of the pool's columns, checked to hold the featurised ones."""
        frame = self._pool_frame(X, reset=False)
        missing = [c for c in self.feature_columns_ if c not in frame.columns]
        if missing:
            raise ValueError(
                f"X lacks the columns {_quote(missing)} that the resampler was fitted on."
            )
        return frame


class DataSummary:
    """Stands for a data parameter in a repr: ``<DataFrame 500x3>``, ``<list of 4>``."""

    def __init__(self, data):
        shape = getattr(data, "shape", None)
        name = type(data).__name__
        if shape is not None:
            self.text = f"<{name} {'x'.join(str(d) for d in shape)}>"
        else:
            self.text = f"<{name} of {len(data)}>" if hasattr(data, "__len__") else f"<{name}>"

    def __repr__(self):
        return self.text


def take(data, indices):
    """Rows ``indices`` of a DataFrame, Series, array or list, in the same type."""
    if hasattr(data, "iloc"):
        return data.iloc[indices]
    if isinstance(data, (list, tuple)):
        return type(data)(data[i] for i in indices)
    return np.asarray(data)[indices]
