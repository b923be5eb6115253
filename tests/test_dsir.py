"""ImportanceResampler (DSIR): selection quality, the paths that must agree, bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.utils import estimator_checks

from tabsift.datasets import make_domain_shift
from tabsift.sampling import ImportanceResampler


@pytest.fixture(scope="module")
def shift():
    return make_domain_shift(n_pool=4000, n_target=300, random_state=0)


def _hashed_kl(sampler, target, rows):
    model = sampler.model_
    p_target, p_rows = model.bucket_counts(target) + 1.0, model.bucket_counts(rows) + 1.0
    return float(entropy(p_target, p_rows))


def test_kl_attributes_are_the_smoothed_token_divergence(shift):
    sampler = ImportanceResampler(shift.target, n_samples=400, random_state=0).fit(shift.pool)
    p, q = sampler.target_distribution_, sampler.pool_distribution_
    # The definition written out: scipy's entropy agrees to rounding.
    assert sampler.kl_target_pool_ == pytest.approx(np.sum(p * np.log(p / q)), rel=1e-12)
    assert sampler.kl_to_target(shift.pool) == pytest.approx(sampler.kl_target_pool_, rel=1e-12)
    selected = shift.pool.iloc[sampler.sample_indices_]
    assert sampler.kl_to_target(selected) == pytest.approx(sampler.kl_target_selected_, rel=1e-12)
    with pytest.raises(ValueError, match="missing"):
        sampler.kl_to_target(shift.pool.drop(columns=shift.target.columns[0]))


def _labels(shift, frame, domains, seed=0):
    """A concept that differs by domain: a domain-specific hyperplane through its centre."""
    rng = np.random.RandomState(seed)
    columns = ["x0", "x1", "x2"]
    centres = shift.pool[columns].groupby(shift.pool_domain.to_numpy()).mean()
    weights = {d: rng.normal(size=len(columns)) for d in centres.index}
    numeric = frame[columns].to_numpy() - centres.loc[list(domains)].to_numpy()
    w = np.stack([weights[d] for d in domains])
    return (np.sum(numeric * w, axis=1) > 0).astype(int)


# ------------------------------------------------------------------------ quality
def test_selection_is_closer_to_the_target_than_random_rows(shift):
    sampler = ImportanceResampler(shift.target, n_samples=400, random_state=0)
    selected, y = sampler.fit_resample(shift.pool)
    assert y is None
    assert selected.shape == (400, shift.pool.shape[1])
    assert np.all(np.diff(sampler.sample_indices_) > 0)
    assert selected.equals(shift.pool.iloc[sampler.sample_indices_])

    random_rows = shift.pool.sample(400, random_state=0)
    kl_selected = _hashed_kl(sampler, shift.target, selected)
    kl_random = _hashed_kl(sampler, shift.target, random_rows)
    assert kl_selected < 0.25 * kl_random
    # kl_reduction_ measures the same thing against the pool.
    assert sampler.kl_reduction_ > 0.5 * sampler.kl_target_pool_
    assert sampler.kl_reduction_ == pytest.approx(
        sampler.kl_target_pool_ - sampler.kl_target_selected_
    )
    # The planted ground truth: the selection comes from the target's domain.
    domains = shift.pool_domain.iloc[sampler.sample_indices_]
    assert (domains == shift.target_domain).mean() > 0.95
    assert (shift.pool_domain == shift.target_domain).mean() < 0.5


def test_a_classifier_tells_the_selection_from_the_target_worse_than_random_rows(shift):
    sampler = ImportanceResampler(shift.target, n_samples=300, random_state=1).fit(shift.pool)
    numeric = [f"x{i}" for i in range(6)]

    def separability(rows):
        X = pd.concat([shift.target[numeric], rows[numeric]], ignore_index=True)
        y = np.r_[np.ones(len(shift.target)), np.zeros(len(rows))]
        return cross_val_score(LogisticRegression(), X, y, cv=3, scoring="roc_auc").mean()

    auc_selected = separability(shift.pool.iloc[sampler.sample_indices_])
    auc_random = separability(shift.pool.sample(300, random_state=1))
    assert auc_random > 0.8
    assert auc_selected < 0.65


def test_downstream_model_trained_on_the_selection_does_better_on_the_target(shift):
    from imblearn.pipeline import Pipeline

    y_pool = _labels(shift, shift.pool, shift.pool_domain)
    y_target = _labels(shift, shift.target, [shift.target_domain] * len(shift.target))
    numeric = [f"x{i}" for i in range(6)]
    # Features of the classifier: the numeric columns (the sampler sees all of them).
    pipe = Pipeline(
        [
            ("select", ImportanceResampler(shift.target, n_samples=400, random_state=0)),
            ("numeric", _Columns(numeric)),
            ("model", LogisticRegression()),
        ]
    )
    pipe.fit(shift.pool, y_pool)
    assert len(pipe.named_steps["select"].sample_indices_) == 400
    accuracy_selected = pipe.score(shift.target, y_target)  # samplers only act in fit

    random_rows = shift.pool.sample(400, random_state=0).index
    baseline = LogisticRegression().fit(shift.pool.loc[random_rows, numeric], y_pool[random_rows])
    accuracy_random = baseline.score(shift.target[numeric], y_target)
    assert accuracy_selected > accuracy_random + 0.1
    assert accuracy_selected > 0.85


class _Columns:
    """A tiny stateless transformer keeping some columns (for the pipeline test)."""

    def __init__(self, columns):
        self.columns = columns

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X[self.columns]

    def fit_transform(self, X, y=None):
        return self.transform(X)


def test_fit_resample_selects_y_with_x(shift):
    y = np.arange(len(shift.pool))
    sampler = ImportanceResampler(shift.target, n_samples=0.05, random_state=0)
    X_sel, y_sel = sampler.fit_resample(shift.pool, y)
    assert len(X_sel) == round(0.05 * len(shift.pool))
    np.testing.assert_array_equal(y_sel, sampler.sample_indices_)
    on_arrays = ImportanceResampler(shift.target[["x0", "x1"]].to_numpy(), n_samples=200)
    X_np, y_list = on_arrays.fit_resample(shift.pool[["x0", "x1"]].to_numpy(), list(y))
    assert isinstance(X_np, np.ndarray) and X_np.shape == (200, 2)
    assert y_list == list(on_arrays.sample_indices_)


def test_pair_tokens_capture_a_shift_in_an_interaction():
    rng = np.random.RandomState(0)
    pool = pd.DataFrame(rng.uniform(-1, 1, size=(2000, 2)), columns=["a", "b"])
    # Same marginals as the pool, but a and b share their sign.
    t = rng.uniform(-1, 1, size=(300, 2))
    t[:, 1] = np.abs(t[:, 1]) * np.sign(t[:, 0])
    target = pd.DataFrame(t, columns=["a", "b"])

    def same_sign(**params):
        sampler = ImportanceResampler(
            target, n_samples=200, n_bins=4, num_buckets=1000, random_state=0, **params
        ).fit(pool)
        chosen = pool.iloc[sampler.sample_indices_]
        return float(np.mean(np.sign(chosen["a"]) == np.sign(chosen["b"])))

    assert same_sign() < 0.65  # marginal tokens cannot see the interaction
    assert same_sign(pair_tokens=True) > 0.85
    assert same_sign(pair_tokens=True, estimator="discriminative") > 0.8


def test_text_only_input_is_the_papers_setting():
    rng = np.random.RandomState(0)
    sports = ["the match", "a late goal", "the coach said", "league table", "the season ends"]
    finance = ["stock prices fell", "the bank rate", "bond market news", "a loan offer"]
    pool = [rng.choice(sports if i % 3 == 0 else finance) + f" {i}" for i in range(600)]
    target = [rng.choice(sports) for _ in range(40)]
    sampler = ImportanceResampler(target, n_samples=100, random_state=0)
    texts, _ = sampler.fit_resample(pool)
    assert isinstance(texts, list) and len(texts) == 100
    assert sampler.column_kinds_ == {"text": "text"}
    assert np.mean([t.rsplit(" ", 1)[0] in sports for t in texts]) > 0.95
    # A Series pool gives a Series back, and the same weights.
    series, _ = ImportanceResampler(target, n_samples=100, random_state=0).fit_resample(
        pd.Series(pool, name="doc")
    )
    assert list(series) == texts


def test_deterministic_top_k_keeps_the_heaviest_rows(shift):
    sampler = ImportanceResampler(shift.target, n_samples=50, top_k=True).fit(shift.pool)
    w = sampler.log_importance_weights_
    assert w[sampler.sample_indices_].min() >= np.sort(w)[-50]
    again = ImportanceResampler(shift.target, n_samples=50, top_k=True, random_state=5)
    np.testing.assert_array_equal(again.fit(shift.pool).sample_indices_, sampler.sample_indices_)


def test_same_seed_same_rows_other_seed_other_rows(shift):
    def run(seed):
        return (
            ImportanceResampler(shift.target, n_samples=200, random_state=seed)
            .fit(shift.pool)
            .sample_indices_
        )

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_replacement_allows_more_rows_than_the_pool():
    pool = pd.DataFrame({"x": np.arange(20.0)})
    sampler = ImportanceResampler(pool.iloc[15:], n_samples=50, replacement=True, random_state=0)
    X_sel, _ = sampler.fit_resample(pool)
    assert len(X_sel) == 50 and len(np.unique(sampler.sample_indices_)) < 20
    assert np.all(np.diff(sampler.sample_indices_) >= 0)
    assert X_sel["x"].mean() > 10


def test_score_samples_is_the_same_on_any_chunk(shift):
    sampler = ImportanceResampler(shift.target, n_samples=100, chunk_size=700).fit(shift.pool)
    full = sampler.score_samples(shift.pool)
    np.testing.assert_allclose(full, sampler.log_importance_weights_)
    parts = [sampler.score_samples(shift.pool.iloc[i : i + 333]) for i in range(0, 4000, 333)]
    np.testing.assert_array_equal(np.concatenate(parts), full)


def test_plot_compares_pool_target_and_selection(shift):
    import matplotlib

    matplotlib.use("Agg")
    sampler = ImportanceResampler(shift.target, n_samples=200, random_state=0).fit(shift.pool)
    ax = sampler.plot(n_features=6)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 6 and not any(label.startswith("bucket") for label in labels)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["pool", "target", "selection"]


# --------------------------------------------------------------------------- dask
@pytest.fixture(scope="module")
def small_shift():
    return make_domain_shift(n_pool=2000, n_target=150, random_state=2)


@pytest.mark.parametrize(
    "params",
    [{}, {"top_k": True}, {"estimator": "discriminative"}, {"fit_sample_size": 300}],
    ids=["gumbel", "top_k", "discriminative", "subsampled-fit"],
)
def test_dask_selects_the_rows_the_in_memory_path_selects(small_shift, params):
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")
    ddf = dd.from_pandas(small_shift.pool, npartitions=3)
    params = {"num_buckets": 1000, **params}  # fewer features: a faster discriminative fit
    memory = ImportanceResampler(small_shift.target, n_samples=150, random_state=7, **params)
    rows_memory, _ = memory.fit_resample(small_shift.pool)
    distributed = ImportanceResampler(small_shift.target, n_samples=150, random_state=7, **params)
    with dask.config.set(scheduler="synchronous"):
        rows_dask, y = distributed.fit_resample(ddf)
        weights = distributed.score_samples(ddf).compute()
    assert y is None
    np.testing.assert_array_equal(distributed.sample_indices_, memory.sample_indices_)
    np.testing.assert_array_equal(
        distributed.log_importance_weights_, memory.log_importance_weights_
    )
    np.testing.assert_array_equal(weights.to_numpy(), memory.log_importance_weights_)
    assert rows_dask.index.equals(rows_memory.index)
    assert distributed.kl_reduction_ == memory.kl_reduction_


def test_dask_on_a_distributed_cluster_by_address(small_shift):
    distributed = pytest.importorskip("distributed")
    dd = pytest.importorskip("dask.dataframe")
    ddf = dd.from_pandas(small_shift.pool, npartitions=4)
    expected = ImportanceResampler(small_shift.target, n_samples=100, random_state=1)
    expected.fit(small_shift.pool)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2) as client:
        sampler = ImportanceResampler(
            small_shift.target, n_samples=100, random_state=1, dask_client=client.scheduler.address
        )
        sampler.fit(ddf)
    np.testing.assert_array_equal(sampler.sample_indices_, expected.sample_indices_)


def test_dask_on_a_local_cluster_started_for_the_call(small_shift):
    pytest.importorskip("distributed")
    dd = pytest.importorskip("dask.dataframe")
    ddf = dd.from_pandas(small_shift.pool.iloc[:800], npartitions=2)
    expected = ImportanceResampler(small_shift.target, n_samples=40, random_state=2)
    expected.fit(small_shift.pool.iloc[:800])
    sampler = ImportanceResampler(
        small_shift.target, n_samples=40, random_state=2, dask_client="local"
    ).fit(ddf)
    np.testing.assert_array_equal(sampler.sample_indices_, expected.sample_indices_)


def test_verbose_shows_progress_and_zero_is_silent(small_shift, capsys):
    ImportanceResampler(small_shift.target, n_samples=10, verbose=0).fit(small_shift.pool)
    assert capsys.readouterr().err == ""
    ImportanceResampler(small_shift.target, n_samples=10, verbose=1).fit(small_shift.pool)
    assert "importance weights" in capsys.readouterr().err


def test_dask_pool_rejects_y(small_shift):
    dd = pytest.importorskip("dask.dataframe")
    ddf = dd.from_pandas(small_shift.pool, npartitions=2)
    with pytest.raises(ValueError, match="y must be None for a Dask pool"):
        ImportanceResampler(small_shift.target).fit_resample(ddf, np.zeros(2000))


# ---------------------------------------------------------------------- bad input
def test_target_columns_missing_from_the_pool_are_named(shift):
    target = shift.target.assign(income=1.0, age=2)
    with pytest.raises(ValueError, match=r"target columns 'income', 'age' are not in the pool"):
        ImportanceResampler(target).fit(shift.pool)


@pytest.mark.parametrize(
    ("pool", "target", "message"),
    [
        (pd.DataFrame({"x": []}), pd.DataFrame({"x": [1.0]}), "pool X is empty"),
        (pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"x": []}), "target is empty"),
        (np.ones((5, 3)), np.ones((4, 2)), "target has 2 columns but the pool X has 3"),
        (np.ones((5, 2)), ["a b c", "d e f"], "target is a sequence of texts"),
    ],
)
def test_bad_input_messages(pool, target, message):
    with pytest.raises(ValueError, match=message):
        ImportanceResampler(target, n_samples=1).fit(pool)


def test_more_rows_than_the_pool_without_replacement_is_an_error():
    pool = pd.DataFrame({"x": np.arange(10.0)})
    with pytest.raises(ValueError, match=r"n_samples=11 asks for 11 rows but the pool has only 10"):
        ImportanceResampler(pool, n_samples=11).fit(pool)


# ------------------------------------------------------------------ common checks
# test_common.py gives the resampler a 3-column target; these checks use data of
# another width, so they run here with a target as wide as their data.
_CHECK_WIDTHS = {
    "check_estimators_overwrite_params": 2,
    "check_estimators_fit_returns_self": 2,
    "check_readonly_memmap_input": 2,
    "check_n_features_in_after_fitting": 4,
    "check_positive_only_tag_during_fit": 4,
    "check_estimators_dtypes": 5,
    "check_dtype_object": 10,
    "check_fit2d_1sample": 10,
    "check_fit2d_1feature": 1,
    "check_fit_idempotent": 2,
    "check_fit_check_is_fitted": 2,
    "check_n_features_in": 2,
}


def test_expected_failures_in_test_common_are_the_checks_run_here():
    from test_common import EXPECTED_FAILED_CHECKS

    assert set(EXPECTED_FAILED_CHECKS["ImportanceResampler"]) == set(_CHECK_WIDTHS)


@pytest.mark.parametrize("check_name", sorted(_CHECK_WIDTHS))
def test_common_check_with_a_target_of_its_width(check_name):
    width = _CHECK_WIDTHS[check_name]
    target = np.random.RandomState(0).uniform(size=(4, width)).tolist()
    sampler = ImportanceResampler(target, n_samples=0.5, num_buckets=64, random_state=0)
    getattr(estimator_checks, check_name)("ImportanceResampler", sampler)


def test_repr_shows_the_target_shape_not_its_rows():
    import pandas as pd
    from sklearn.base import clone

    target = pd.DataFrame(np.zeros((500, 3)), columns=["a", "b", "c"])
    sampler = ImportanceResampler(target, n_samples=10)
    assert repr(sampler) == "ImportanceResampler(n_samples=10, target=<DataFrame 500x3>)"
    assert sampler.get_params()["target"] is target
    assert clone(sampler).target.equals(target)
    assert "<list of 2>" in repr(ImportanceResampler(["a goal", "the match"]))


def test_is_an_imblearn_sampler():
    from imblearn.base import BaseSampler

    sampler = ImportanceResampler(["what a goal", "the match"], n_samples=2, top_k=True)
    assert isinstance(sampler, BaseSampler)
    assert sampler.__sklearn_tags__().sampler_tags.sample_indices
    y = ["s", "f", "s"]
    X_res, y_res = sampler.fit_resample(["a late goal", "stocks fell", "the match ended"], y)
    assert isinstance(X_res, list) and y_res == [y[i] for i in sampler.sample_indices_]
    assert sampler.sampling_strategy_ == {c: y_res.count(c) for c in sorted(set(y_res))}


# ------------------------------------------------------------- the text tokeniser
def _regex_tokens(texts):
    """The reference: the paper's word-punct regex on each lower-cased text ("\x01" is a
    space, as it always was in tabsift)."""
    from tabsift.sampling._hashing import TOKEN_PATTERN

    return [
        TOKEN_PATTERN.findall((t if isinstance(t, str) else "").replace("\x01", " ").lower())
        for t in texts
    ]


def _tokens_by_doc(texts):
    from tabsift.sampling._hashing import tokenize_texts

    doc, codes, uniques = tokenize_texts(texts)
    assert np.all(np.diff(doc) >= 0)
    assert len(set(uniques)) == len(uniques)  # one code per distinct token
    out = [[] for _ in texts]
    for d, c in zip(doc.tolist(), codes.tolist(), strict=True):
        out[d].append(uniques[c])
    return out


TRICKY_TEXTS = {
    "ascii": ["Hello, world!! It's 3.14 -- x_1 (ok)...", "", "   ", None, "tab\there\nnew"],
    "latin-1": ["ÉCOLE d'été: naïve café, 3½ x² ¿qué?", "\xa0nbsp\x85nel", "a\x01b \x01"],
    "bmp": ["“quoted” — ‘x’… İstanbul ΟΔΟΣ σ", "١٢٣ digits ٤", "日本語のテキスト、句読点。",
            "e\u0301 combining", "ǅemo ǈ Ⅻ ⅻ", "\u2028line\u3000sep\u200bzw"],
    "astral": ["emoji 😀😀 ok", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛!", "\ud800 lone surrogate \udfff"],
    "control": ["\x1c\x1d\x1e\x1fq\x0b\x0cr", "\x00nul\x7f", "_under_ __ _"],
    "empty": ["", "", ""],
    "none": [],
}


@pytest.mark.parametrize("name", list(TRICKY_TEXTS))
def test_tokeniser_gives_the_regex_tokens_on_tricky_text(name):
    texts = TRICKY_TEXTS[name]
    assert _tokens_by_doc(texts) == _regex_tokens(texts)


def test_tokeniser_gives_the_regex_tokens_on_random_unicode():
    # Characters from every class the regex tells apart, in random runs; each chunk
    # mixes documents that are ASCII, Latin-1, BMP and astral.
    rng = np.random.default_rng(0)
    alphabet = list("aZ9_ .,;!?'\"-()\t\n\x01\x1f") + list("éß½²\xa0\x85") + list(
        "ΣσςİЖж١—“…\u0301\u2028\u3000日。"
    ) + ["😀", "𝟙", "\ud800"]
    texts = []
    for _ in range(400):
        size = int(rng.integers(0, 40))
        texts.append("".join(rng.choice(alphabet, size=size)))
    texts[::7] = [t.encode("ascii", "ignore").decode() for t in texts[::7]]
    assert _tokens_by_doc(texts) == _regex_tokens(texts)
    for start in range(0, 400, 50):  # chunks of one script (narrower code units)
        chunk = texts[start : start + 50]
        assert _tokens_by_doc(chunk) == _regex_tokens(chunk)


def test_text_buckets_count_unigrams_and_bigrams_of_each_document():
    from tabsift.sampling._hashing import RowHasher

    texts = pd.DataFrame({"text": ["the cat sat.", "", "the cat", None, "Sat!"]})
    hasher = RowHasher(num_buckets=1_000, text_columns=["text"]).fit(texts)
    counts = hasher.transform(texts).toarray()
    # tokens: 4 + 0 + 2 + 0 + 2; bigrams: 3 + 0 + 1 + 0 + 1
    assert counts.sum(axis=1).tolist() == [7.0, 0.0, 3.0, 0.0, 3.0]
    # "the cat" is a part of "the cat sat." (its unigrams and its bigram)
    assert np.all(counts[0] >= counts[2])
