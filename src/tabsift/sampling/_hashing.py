"""Hashed token counts of table rows and texts: the features of importance resampling.

Every row becomes a bag of tokens (``column=bin`` for numbers, ``column=value``
for categories, lower-cased word unigrams and bigrams for text columns, and
optionally ``(column, column)`` pairs), hashed into ``num_buckets`` buckets.
The result is a sparse count matrix with one row per input row.

Hashing is vectorised: each *distinct* token of a chunk is hashed once with
scikit-learn's MurmurHash3 (``sklearn.utils.murmurhash3_32``), every other
step (bins, bigrams, pairs, bucket counts) runs in NumPy. A text column is
tokenised with one regular-expression pass over the whole chunk, so a
document costs a few hundred nanoseconds per word instead of a Python loop
over its n-grams.
"""

import re

import numpy as np
from scipy import sparse
from sklearn.utils import murmurhash3_32

# nltk's WordPunctTokenizer (the DSIR paper's tokenizer): runs of word
# characters, and runs of punctuation.
TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]+")
# Joins the documents of a chunk so that one regex pass tokenises them all; it is
# its own token (neither a word character nor whitespace) and never a real one.
_SEPARATOR = "\x01"
_MISSING = "\x00missing"

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def mix64(a, b):
    """A well-mixed 64-bit hash of two uint64 arrays (splitmix64's finaliser)."""
    with np.errstate(over="ignore"):
        x = np.asarray(a, dtype=np.uint64) * _GOLDEN + np.asarray(b, dtype=np.uint64)
        x ^= x >> np.uint64(30)
        x *= _MIX1
        x ^= x >> np.uint64(27)
        x *= _MIX2
        x ^= x >> np.uint64(31)
    return x


def _hash_strings(values, seed):
    return np.fromiter(
        (murmurhash3_32(v, seed=seed, positive=True) for v in values),
        dtype=np.uint64,
        count=len(values),
    )


def _column_seed(name):
    return murmurhash3_32(f"tabsift:{name}", seed=0, positive=True)


def _is_text_like(series):
    import pandas as pd

    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def tokenize_texts(texts):
    """Lower-cased word-punct tokens of every text: ``(doc_of_token, codes, uniques)``.

    ``codes`` index ``uniques`` (the distinct tokens); missing texts are empty.
    """
    import pandas as pd

    docs = ["" if not isinstance(t, str) else t for t in texts]
    joined = f" {_SEPARATOR} ".join(docs)
    if joined.count(_SEPARATOR) != max(len(docs) - 1, 0):
        # A document holds the separator itself: drop it from the documents.
        docs = [d.replace(_SEPARATOR, " ") for d in docs]
        joined = f" {_SEPARATOR} ".join(docs)
    tokens = TOKEN_PATTERN.findall(joined.lower())
    codes, uniques = pd.factorize(np.asarray(tokens, dtype=object), sort=False)
    # (NumPy would compare the strings as fixed-width ones; pandas compares them exactly.)
    separator_code = pd.Index(uniques).get_indexer([_SEPARATOR])[0]
    uniques = np.asarray(uniques, dtype=object)
    is_separator = codes == separator_code if separator_code >= 0 else np.zeros(len(codes), bool)
    doc_of_token = np.cumsum(is_separator)
    keep = ~is_separator
    return doc_of_token, codes, uniques, keep


class RowHasher:
    """Hash table rows (or texts) into sparse bucket counts.

    Parameters
    ----------
    num_buckets : int
    n_bins : int
        Quantile bins per numeric column.
    text_columns : "auto", list of str or None
        ``"auto"``: a non-numeric column whose values average at least three
        words is text, the others are categories.
    pair_tokens : bool
        Add one token per pair of non-text columns (their two tokens together).
    """

    def __init__(self, num_buckets=10_000, n_bins=10, text_columns="auto", pair_tokens=False):
        self.num_buckets = num_buckets
        self.n_bins = n_bins
        self.text_columns = text_columns
        self.pair_tokens = pair_tokens

    # ------------------------------------------------------------------ fitting
    def fit(self, frame):
        """Learn column kinds and quantile bin edges from ``frame`` (a pool sample)."""
        import pandas as pd

        self.columns_ = [str(c) for c in frame.columns]
        self.kinds_ = {}
        self.edges_ = {}
        if self.text_columns == "auto":
            declared_text = None
        else:
            declared_text = {str(c) for c in (self.text_columns or ())}
        single = len(frame.columns) == 1
        for column, name in zip(frame.columns, self.columns_, strict=True):
            series = frame[column]
            if declared_text is not None and name in declared_text:
                kind = "text"
            elif not _is_text_like(series):
                kind = "numeric"
                values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
                values = values[np.isfinite(values)]
                if values.size:
                    qs = np.quantile(values, np.linspace(0, 1, self.n_bins + 1)[1:-1])
                    self.edges_[name] = np.unique(qs)
                else:
                    self.edges_[name] = np.empty(0)
            elif declared_text is None and _looks_like_text(series):
                kind = "text"
            else:
                kind = "categorical"
            self.kinds_[name] = kind
        # The paper's setting (one text column) hashes the plain n-grams.
        self.seeds_ = {
            name: 0 if (single and self.kinds_[name] == "text") else _column_seed(name)
            for name in self.columns_
        }
        self.bucket_tables_ = {
            name: (
                _hash_int_codes(np.arange(len(self.edges_[name]) + 2), self.seeds_[name])
                if kind == "numeric"
                else None
            )
            for name, kind in self.kinds_.items()
        }
        return self

    @property
    def text_columns_(self):
        return [c for c in self.columns_ if self.kinds_[c] == "text"]

    # ---------------------------------------------------------------- transform
    def token_buckets(self, frame, *, names=None):
        """The bucket of every token of every row: ``(rows, buckets)``, two int64 arrays.

        A row's tokens always come in the same order (column by column, then text
        order), whatever chunk the row is read in, so sums over a row's tokens are
        bit-for-bit the same in every chunking. ``names``: a dict filled with
        ``bucket -> readable token`` for display.
        """
        n = len(frame)
        rows, cols = [], []
        codes_for_pairs = []
        B = np.uint64(self.num_buckets)
        for column, name in zip(frame.columns, self.columns_, strict=True):
            series = frame[column]
            kind = self.kinds_[name]
            seed = self.seeds_[name]
            if kind == "numeric":
                bins = self._bins(series, name)
                buckets = (self.bucket_tables_[name][bins] % B).astype(np.int64)
                rows.append(np.arange(n))
                cols.append(buckets)
                codes_for_pairs.append(bins.astype(np.uint64))
                if names is not None:
                    self._name_numeric(name, np.unique(bins), names)
            elif kind == "categorical":
                codes = self._category_codes(series, seed)
                rows.append(np.arange(n))
                cols.append((mix64(codes, seed) % B).astype(np.int64))
                codes_for_pairs.append(codes)
                if names is not None:
                    self._name_categories(name, series, seed, names)
            else:
                r, c = self._text_buckets(series, name, seed, names)
                rows.append(r)
                cols.append(c)
        if self.pair_tokens and len(codes_for_pairs) > 1:
            for i in range(len(codes_for_pairs)):
                for j in range(i + 1, len(codes_for_pairs)):
                    pair_seed = np.uint64(1_000_003 * (i + 1) + j)
                    h = mix64(mix64(codes_for_pairs[i], codes_for_pairs[j]), pair_seed)
                    rows.append(np.arange(n))
                    cols.append((h % B).astype(np.int64))
        if not rows:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        # Not sorted by row: what matters is that each row's tokens keep one order.
        return np.concatenate(rows), np.concatenate(cols)

    def transform(self, frame, *, names=None):
        """Sparse ``(n_rows, num_buckets)`` CSR matrix of token counts (float64)."""
        rows, cols = self.token_buckets(frame, names=names)
        return counts_matrix(rows, cols, len(frame), self.num_buckets)

    def _bins(self, series, name):
        import pandas as pd

        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        edges = self.edges_[name]
        bins = np.searchsorted(edges, values, side="right")
        bins[np.isnan(values)] = len(edges) + 1  # missing values: a bin of their own
        return bins

    def _category_codes(self, series, seed):
        import pandas as pd

        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        table = _hash_strings([_category_text(u) for u in uniques] + [_MISSING], seed)
        return table[codes]  # code -1 (missing) picks the last entry

    def _text_buckets(self, series, name, seed, names):
        B = np.uint64(self.num_buckets)
        doc, codes, uniques, keep = tokenize_texts(series.tolist())
        token_hash = _hash_strings(uniques, seed)
        kept = codes[keep]
        uni = (token_hash % B).astype(np.int64)[kept]
        pair = keep[:-1] & keep[1:]
        bi = mix64(token_hash[codes[:-1][pair]], token_hash[codes[1:][pair]]) % B
        if names is not None:
            label = "" if seed == 0 else f"{name}: "
            for token, bucket in zip(uniques, token_hash % B, strict=True):
                if token != _SEPARATOR:
                    names.setdefault(int(bucket), f"{label}{token}")
        rows = np.concatenate([doc[keep], doc[:-1][pair]])
        cols = np.concatenate([uni, bi]).astype(np.int64)
        return rows, cols

    def _name_numeric(self, name, bins, names):
        edges = self.edges_[name]
        table = self.bucket_tables_[name]
        for b in bins:
            if b == len(edges) + 1:
                text = f"{name} missing"
            elif len(edges) == 0:
                text = f"{name} (any)"
            elif b == 0:
                text = f"{name} < {edges[0]:.3g}"
            elif b == len(edges):
                text = f"{name} >= {edges[-1]:.3g}"
            else:
                text = f"{name} in [{edges[b - 1]:.3g}, {edges[b]:.3g})"
            names.setdefault(int(table[b] % np.uint64(self.num_buckets)), text)

    def _name_categories(self, name, series, seed, names):
        import pandas as pd

        uniques = pd.unique(series.dropna())
        table = _hash_strings([_category_text(u) for u in uniques], seed)
        buckets = mix64(table, seed) % np.uint64(self.num_buckets)
        for value, bucket in zip(uniques, buckets, strict=True):
            names.setdefault(int(bucket), f"{name}={value}")


def counts_matrix(rows, cols, n_rows, num_buckets):
    """CSR token counts from ``token_buckets`` output (duplicates summed, indices sorted)."""
    counts = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(n_rows, num_buckets)
    )
    counts.sum_duplicates()
    return counts


def _category_text(value):
    """The text a category is hashed by: 3.0 and 3 are one category (a CSV chunk with a
    missing value reads a column of integers as floats)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _hash_int_codes(codes, seed):
    return mix64(np.asarray(codes, dtype=np.uint64), np.uint64(seed) + np.uint64(1))


def _looks_like_text(series, min_words=3.0):
    sample = series.dropna()
    if len(sample) > 2000:
        sample = sample.iloc[:: len(sample) // 2000 + 1]
    if not len(sample):
        return False
    words = sample.astype(str).str.split().str.len()
    return float(words.mean()) >= min_words
