r"""Hashed token counts of table rows and texts: the features of importance resampling.

Every row becomes a bag of tokens (``column=bin`` for numbers, ``column=value``
for categories, lower-cased word unigrams and bigrams for text columns, and
optionally ``(column, column)`` pairs), hashed into ``num_buckets`` buckets.
The result is a sparse count matrix with one row per input row.

Hashing is vectorised: each *distinct* token of a chunk is hashed once with
scikit-learn's MurmurHash3 (``sklearn.utils.murmurhash3_32``), every other
step (bins, bigrams, pairs, bucket counts) runs in NumPy.

A text column is tokenised without a Python object per token: the chunk's
lower-cased text is one NumPy array of code points, each code point is looked
up in a table of its class (word character, whitespace or other, as Python's
``re`` defines ``\w`` and ``\s``), token boundaries are where the class
changes, and the tokens (packed end to end) are numbered by Arrow's hash table
(``pyarrow.compute.dictionary_encode``). The tokens are exactly those of
``TOKEN_PATTERN.findall(text.lower())``, document by document.
"""

import re
from itertools import pairwise

import numpy as np
from scipy import sparse
from sklearn.utils import murmurhash3_32

# nltk's WordPunctTokenizer (the DSIR paper's tokenizer): runs of word
# characters, and runs of punctuation. The tokeniser below gives its tokens.
TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]+")
_MISSING = "\x00missing"

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)

# Classes of code points (``_UNKNOWN``: not looked at yet).
_SPACE, _WORD, _OTHER, _UNKNOWN = 0, 1, 2, 255
# "\x01" joined the documents of a chunk in earlier versions and was read as
# whitespace inside a document; it still is, so the tokens did not change.
_ALSO_SPACE = "\x01"
_CLASS_TABLE = None
# Characters of text tokenised at once (a slice's arrays take a few MB).
_SLICE_CHARS = 1 << 20
# (encoding of a chunk's text, NumPy dtype of one code unit)
_ENCODINGS = (("latin-1", np.uint8), ("utf-16-le", np.uint16), ("utf-32-le", np.uint32))


def mix64(a, b):
    """Return a well-mixed 64-bit hash of two uint64 arrays (splitmix64's finaliser)."""
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


def _hashes_of(uniques, seed, known):
    """Return the hashes of the tokens ``uniques``; ``known`` (token -> hash) spares hashing twice."""
    new = [u for u in uniques if u not in known]
    known.update(zip(new, _hash_strings(new, seed).tolist(), strict=True))
    return np.fromiter(map(known.__getitem__, uniques), dtype=np.uint64, count=len(uniques))


def _text_slices(texts):
    """``(start, stop)`` runs of ``texts`` of about ``_SLICE_CHARS`` characters (at least one text)."""
    lengths = np.fromiter((len(t) if isinstance(t, str) else 0 for t in texts), np.int64, len(texts))
    ends = np.cumsum(lengths)
    bounds = [0]
    while bounds[-1] < len(texts):
        start = bounds[-1]
        reach = (ends[start - 1] if start else 0) + _SLICE_CHARS
        bounds.append(max(start + 1, int(np.searchsorted(ends, reach, side="right"))))
    return list(zip(bounds[:-1], bounds[1:], strict=True)) or [(0, 0)]


def _column_seed(name):
    return murmurhash3_32(f"tabsift:{name}", seed=0, positive=True)


def _is_text_like(series):
    import pandas as pd

    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _classify(table, code_points):
    """Fill ``table`` at ``code_points`` with their class, asking ``re`` itself."""
    text = np.asarray(code_points, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    word, space = re.compile(r"\w"), re.compile(r"\s")
    for point, char in zip(np.asarray(code_points).tolist(), text, strict=True):
        if char == _ALSO_SPACE or space.match(char):
            table[point] = _SPACE
        elif word.match(char):
            table[point] = _WORD
        else:
            table[point] = _OTHER


def _class_table():
    """Return the class of every code point, filled in as code points are met (Latin-1 at once)."""
    global _CLASS_TABLE
    if _CLASS_TABLE is None:
        table = np.full(0x110000, _UNKNOWN, dtype=np.uint8)
        _classify(table, np.arange(256))
        _CLASS_TABLE = table
    return _CLASS_TABLE


def _code_units(text):
    """``text`` as a NumPy array with one element per character, and its encoding.

    The narrowest of Latin-1, UTF-16 and UTF-32 that holds every character in
    one code unit (lone surrogates included). A non-ASCII text is read by
    NumPy as code points in one copy (faster than ``str.encode``).
    """
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8), "latin-1"
    points = np.array(text).reshape(1).view(np.uint32)
    if len(points) != len(text):  # never seen; NumPy keeps trailing NULs
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    top = int(points.max())
    if top < 0x100:
        return points.astype(np.uint8), "latin-1"
    if top < 0x10000:
        return points.astype(np.uint16), "utf-16-le"
    return points, "utf-32-le"


def tokenize_texts(texts):
    """Lower-cased word-punct tokens of every text: ``(doc_of_token, codes, uniques)``.

    ``doc_of_token`` (non-decreasing) and ``codes`` have one entry per token, in
    text order; ``codes`` index ``uniques`` (the distinct tokens, as ``str``, in
    order of first appearance). A missing (non-string) text has no tokens.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    docs = [t.lower() if isinstance(t, str) else "" for t in texts]
    ends = np.cumsum(np.fromiter(map(len, docs), dtype=np.int64, count=len(docs)))
    units, encoding = _code_units("".join(docs))
    table = _class_table()
    classes = table[units]
    if units.dtype != np.uint8:
        unknown = classes == _UNKNOWN
        if unknown.any():
            _classify(table, np.unique(units[unknown]))
            classes = table[units]
    n = len(units)
    # A token starts (or ends) where the class changes, and at every document start.
    change = np.ones(n + 1, dtype=bool)
    np.not_equal(classes[1:], classes[:-1], out=change[1:n])
    change[ends[:-1]] = True
    in_token = classes != _SPACE
    starts = np.flatnonzero(change[:n] & in_token)
    stops = np.flatnonzero(change[1:] & in_token) + 1
    per_doc = np.diff(np.searchsorted(starts, ends), prepend=0)
    doc_of_token = np.repeat(np.arange(len(docs)), per_doc)
    # Tokens packed end to end (the whitespace between them dropped), numbered by Arrow.
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(stops - starts, out=offsets[1:])
    offsets *= units.itemsize
    packed = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(),
        len(starts),
        [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(units[in_token]))],
    )
    encoded = pc.dictionary_encode(packed)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    # The distinct tokens: one decode of the dictionary's bytes, then one slice each.
    dictionary = encoded.dictionary
    _, offsets_buffer, data_buffer = dictionary.buffers()
    bounds = np.frombuffer(offsets_buffer, dtype=np.int64)[: len(dictionary) + 1]
    bounds = (bounds // units.itemsize).tolist()
    errors = "strict" if encoding == "latin-1" else "surrogatepass"
    text = b"" if data_buffer is None else data_buffer.to_pybytes()[: bounds[-1] * units.itemsize]
    text = text.decode(encoding, errors)
    uniques = np.asarray([text[a:b] for a, b in pairwise(bounds)], dtype=object)
    return doc_of_token, codes, uniques


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
    def token_parts(self, frame, *, names=None, name_rows=None):
        """Return the buckets of every token of every row, as ``[(rows, buckets), ...]`` parts.

        Each part is two index arrays (int32 unless the table is too large for
        it): token ``i`` of the part belongs to row ``rows[i]`` of ``frame`` and
        falls in bucket ``buckets[i]``. A row's tokens always come in the same
        order (column by column, then text order), and its text tokens in one
        part, whatever chunk the row is read in, so sums over a row's tokens
        are bit-for-bit the same in every chunking. Parts hold a non-text
        column each, or a slice of about ``_SLICE_CHARS`` characters of a text
        column, so that work over them runs on arrays of a few megabytes.
        ``names``: a dict filled with ``bucket -> readable token`` for display,
        from the first ``name_rows`` rows (None: every row); a bucket keeps
        the first token met.
        """
        n = len(frame)
        name_rows = n if name_rows is None else min(n, name_rows)
        index = np.int32 if max(n, self.num_buckets) < 2**31 else np.int64
        parts = []
        codes_for_pairs = []
        B = np.uint64(self.num_buckets)
        for column, name in zip(frame.columns, self.columns_, strict=True):
            series = frame[column]
            kind = self.kinds_[name]
            seed = self.seeds_[name]
            if kind == "numeric":
                bins = self._bins(series, name)
                buckets = (self.bucket_tables_[name][bins] % B).astype(index)
                parts.append((np.arange(n, dtype=index), buckets))
                codes_for_pairs.append(bins.astype(np.uint64))
                if names is not None:
                    self._name_numeric(name, np.unique(bins[:name_rows]), names)
            elif kind == "categorical":
                codes = self._category_codes(series, seed)
                parts.append((np.arange(n, dtype=index), (mix64(codes, seed) % B).astype(index)))
                codes_for_pairs.append(codes)
                if names is not None:
                    self._name_categories(name, series.iloc[:name_rows], seed, names)
            else:
                parts.extend(self._text_parts(series, name, seed, names, name_rows, index))
        if self.pair_tokens and len(codes_for_pairs) > 1:
            for i in range(len(codes_for_pairs)):
                for j in range(i + 1, len(codes_for_pairs)):
                    pair_seed = np.uint64(1_000_003 * (i + 1) + j)
                    h = mix64(mix64(codes_for_pairs[i], codes_for_pairs[j]), pair_seed)
                    parts.append((np.arange(n, dtype=index), (h % B).astype(index)))
        return parts

    def transform(self, frame, *, names=None):
        """Sparse ``(n_rows, num_buckets)`` CSR matrix of token counts (float64)."""
        parts = self.token_parts(frame, names=names)
        return counts_matrix(parts, len(frame), self.num_buckets)

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

    def _text_parts(self, series, name, seed, names, name_rows, index):
        """Return the ``(rows, buckets)`` parts of a text column, one a slice of documents.

        A slice holds about ``_SLICE_CHARS`` characters, so its arrays stay a
        few megabytes: they are reused from the heap, not mapped afresh (and
        faulted in page by page) for every chunk. A row's tokens are its
        unigrams, then its bigrams, all in one part.
        """
        texts = series.tolist()
        label = "" if seed == 0 else f"{name}: "
        known_hashes = {}
        parts = []
        for start, stop in _text_slices(texts):
            doc, codes, uniques = tokenize_texts(texts[start:stop])
            token_hash = _hashes_of(uniques, seed, known_hashes)
            rows, buckets = self._slice_buckets(doc, codes, token_hash)
            rows += start
            parts.append((rows.astype(index), buckets.astype(index)))
            if names is not None and start < name_rows:
                self._name_tokens(doc, codes, uniques, token_hash, name_rows - start, label, names)
        return parts

    def _slice_buckets(self, doc, codes, token_hash):
        """``(rows, buckets)`` of one slice's unigrams, then its bigrams."""
        B = np.uint64(self.num_buckets)
        uni = (token_hash % B).astype(np.int64)[codes]
        pair = doc[:-1] == doc[1:]  # consecutive tokens of one document
        bi = mix64(token_hash[codes[:-1][pair]], token_hash[codes[1:][pair]]) % B
        return np.concatenate([doc, doc[:-1][pair]]), np.concatenate([uni, bi.astype(np.int64)])

    def _name_tokens(self, doc, codes, uniques, token_hash, name_rows, label, names):
        """Name buckets by the tokens of the first ``name_rows`` documents of a slice."""
        # Tokens are numbered in order of first appearance, so the tokens of
        # the first ``name_rows`` documents are the first ``known`` distinct ones.
        in_rows = codes[: np.searchsorted(doc, name_rows)]
        known = int(in_rows.max()) + 1 if len(in_rows) else 0
        buckets = token_hash[:known] % np.uint64(self.num_buckets)
        for token, bucket in zip(uniques[:known], buckets, strict=True):
            names.setdefault(int(bucket), f"{label}{token}")

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


def counts_matrix(parts, n_rows, num_buckets):
    """CSR token counts from ``token_parts`` output (duplicates summed, indices sorted)."""
    if parts:
        rows = np.concatenate([r for r, _ in parts])
        cols = np.concatenate([c for _, c in parts])
    else:
        rows = cols = np.empty(0, dtype=np.int64)
    counts = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(n_rows, num_buckets)
    )
    counts.sum_duplicates()
    return counts


def _category_text(value):
    """Return the text a category is hashed by: 3.0 and 3 are one category.

    A CSV chunk with a missing value reads a column of integers as floats.
    """
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
    values = sample.astype(str).tolist()
    # Words counted up to a cap (a long document's first words decide at once);
    # only when the capped mean falls short are the capped values counted in full.
    cap = 64
    words = [len(v.split(None, cap)) for v in values]
    if sum(words) >= min_words * len(values):
        return True
    total = sum(len(v.split()) if w > cap else w for v, w in zip(values, words, strict=True))
    return total >= min_words * len(values)
