"""Coreset and instance selectors: KCenter, OT (GORACS), GAIS, Add-One-In, random baseline."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from tabsift.datasets import make_rare_region
from tabsift.llm.testing import LocalLLMServer
from tabsift.sampling import (
    GraphAttentionSelector,
    HybridCoresetSelector,
    KCenterSelector,
    LLMChoiceSelector,
    OTCoresetSelector,
    StratifiedRandomSelector,
)
from tabsift.sampling._ot_transport import _Costs, solve_ot

FAST = {
    KCenterSelector: {},
    OTCoresetSelector: {"validation": 100, "max_swaps": 3},
    StratifiedRandomSelector: {},
    LLMChoiceSelector: {},
}


@pytest.fixture(scope="module")
def rare():
    train = make_rare_region(n_samples=2000, random_state=0)
    test = make_rare_region(n_samples=4000, random_state=1)
    return train, test


def _rare_accuracy(train, test, idx):
    model = KNeighborsClassifier(n_neighbors=1).fit(train.data.iloc[idx], train.target.iloc[idx])
    pred = model.predict(test.data)
    return float((pred[test.rare] == test.target[test.rare]).mean())


def test_k_center_covers_rare_region_random_misses_it(rare):
    train, test = rare
    selector = KCenterSelector(n_samples=20, random_state=0).fit(train.data, train.target)
    assert train.rare[selector.sample_indices_].any()
    kcenter = _rare_accuracy(train, test, selector.sample_indices_)
    random = [
        _rare_accuracy(
            train, test,
            StratifiedRandomSelector(n_samples=20, random_state=s)
            .fit(train.data, train.target).sample_indices_,
        )
        for s in range(10)
    ]
    assert kcenter >= 0.95
    assert np.mean(random) < 0.5


def test_add_one_in_fallback_covers_rare_region(rare):
    train, test = rare
    selector = LLMChoiceSelector(n_samples=30, candidates="diverse", random_state=0)
    selector.fit(train.data, train.target)
    assert _rare_accuracy(train, test, selector.sample_indices_) >= 0.95
    assert selector.n_llm_choices_ == 0 and len(selector.choices_) == 28


@pytest.mark.parametrize("cls", list(FAST))
@pytest.mark.parametrize("stratify", ["balanced", {0: 7, 1: 3}])
def test_per_class_budgets_are_respected(rare, cls, stratify):
    train, _ = rare
    selector = cls(n_samples=20, stratify=stratify, random_state=0, **FAST[cls])
    X_res, y_res = selector.fit_resample(train.data, train.target)
    counts = y_res.value_counts().to_dict()
    expected = {0: 10, 1: 10} if stratify == "balanced" else {0: 7, 1: 3}
    assert counts == expected
    assert len(set(selector.sample_indices_.tolist())) == sum(expected.values())
    # Pandas in, pandas out: the original index and the rows themselves.
    pd.testing.assert_frame_equal(X_res, train.data.iloc[selector.sample_indices_])


def test_gais_keeps_the_fraction_per_class(rare):
    train, _ = rare
    selector = GraphAttentionSelector(reduction=0.95, epochs=20, spread=False, random_state=0)
    X_res, y_res = selector.fit_resample(train.data, train.target)
    assert len(X_res) == 100
    sizes = train.target.value_counts()
    for c, n_c in y_res.value_counts().items():
        assert abs(n_c - 100 * sizes[c] / len(train.target)) <= 1
    assert selector.loss_curve_[-1] < selector.loss_curve_[0]
    # Kept rows score at least as high as every removed row of their class.
    kept = np.zeros(len(train.target), dtype=bool)
    kept[selector.sample_indices_] = True
    for c in (0, 1):
        in_c = train.target.to_numpy() == c
        assert selector.scores_[kept & in_c].min() >= selector.scores_[~kept & in_c].max()
    # spread=True keeps the same number of rows per class, spread over the class.
    spread = GraphAttentionSelector(reduction=0.95, epochs=20, random_state=0)
    _, y_spread = spread.fit_resample(train.data, train.target)
    assert y_spread.value_counts().to_dict() == y_res.value_counts().to_dict()
    assert train.rare[spread.sample_indices_].any()
    # keep_by="confidence" keeps the rows the network is surest of: per class, every kept
    # row's confidence is at least every removed row's, and the opposite of "uncertainty".
    sure = GraphAttentionSelector(
        reduction=0.95, epochs=20, spread=False, keep_by="confidence", random_state=0
    ).fit(train.data, train.target)
    unsure = GraphAttentionSelector(
        reduction=0.95, epochs=20, spread=False, keep_by="uncertainty", random_state=0
    ).fit(train.data, train.target)
    kept = np.zeros(len(train.target), dtype=bool)
    kept[sure.sample_indices_] = True
    for c in (0, 1):
        in_c = train.target.to_numpy() == c
        assert sure.confidence_[kept & in_c].min() >= sure.confidence_[~kept & in_c].max()
    assert sure.confidence_[sure.sample_indices_].mean() > unsure.confidence_[
        unsure.sample_indices_
    ].mean()


@pytest.mark.parametrize("hashing", ["single", "multi-level", "multi-view"])
def test_gais_hashing_graphs(rare, hashing):
    train, _ = rare
    X, y = train.data.iloc[:600], train.target.iloc[:600]
    selector = GraphAttentionSelector(
        reduction=0.8, graph="hashing", hashing=hashing, epochs=5, random_state=0
    ).fit(X, y)
    assert len(selector.sample_indices_) == 120
    # Self-loops plus at most n_neighbors edges per row and table.
    tables = 1 if hashing == "single" else 3
    assert 600 < selector.n_edges_ <= 600 * (1 + 8 * tables)
    assert selector.attention_.shape == (600,) and (selector.attention_ >= 0).all()


def test_ot_objective_never_increases_and_beats_random():
    data = make_rare_region(n_samples=1500, random_state=3)
    selector = OTCoresetSelector(
        n_samples=60, lam=0.0, validation=300, max_swaps=15, random_state=0
    ).fit(data.data, data.target)
    history = selector.objective_history_
    assert len(history) >= 2, "expected at least one improving swap"
    assert all(b < a for a, b in zip(history, history[1:], strict=False))
    assert selector.n_swaps_ == len(history) - 1
    assert selector.sample_weight_.sum() == pytest.approx(1500)
    # The same objective for random subsets of the candidates is worse.
    X = data.data.to_numpy()
    val = selector.validation_indices_
    cand = np.setdiff1d(np.arange(1500), val)
    mean, scale = X[cand].mean(0), X[cand].std(0)
    costs = _Costs(
        ((X[cand] - mean) / scale).astype(np.float32), np.zeros(len(cand)),
        ((X[val] - mean) / scale).astype(np.float32), 0.0, np.random.RandomState(0),
    )
    costs.scale = 1.0  # compare raw distances: one yardstick for both
    chosen = np.searchsorted(cand, selector.sample_indices_)
    ours = solve_ot(costs.rows(chosen), "exact")[0]
    rng = np.random.default_rng(0)
    randoms = [solve_ot(costs.rows(rng.choice(len(cand), 60, replace=False)), "exact")[0]
               for _ in range(5)]
    assert ours < min(randoms)


def test_ot_dual_bound_that_screens_swaps_holds():
    from tabsift.sampling._ot_transport import solve_ot

    # Swapping selected row o for outside row i: the re-solved optimum is at least
    # value + (c-transform of i - u_o) / k, so pairs with u_in >= u_out are never tried.
    rng = np.random.default_rng(0)
    C = rng.random((60, 25))
    selected, outside = np.arange(12), np.arange(12, 60)
    value, u, v, _ = solve_ot(C[selected], "exact")
    u_in = (C[outside] - v[None, :]).min(axis=1)
    k = len(selected)
    checked = improved = 0
    for o in range(k):
        for i in range(len(outside)):
            trial = selected.copy()
            trial[o] = outside[i]
            new_value = solve_ot(C[trial], "exact")[0]
            assert new_value >= value + (u_in[i] - u[o]) / k - 1e-9
            checked += 1
            improved += new_value < value - 1e-12
    assert checked == 12 * 48 and improved > 0  # the bound is not vacuous: some swaps help


def test_ot_group_level_history_and_given_validation():
    data = make_rare_region(n_samples=400, random_state=4)
    X, y = data.data.to_numpy(), data.target.to_numpy()
    selector = OTCoresetSelector(
        n_samples=30, stratify="proportional", validation=(X[:100], y[:100]),
        max_swaps=5, random_state=0, solver="sinkhorn",
    ).fit(X[100:], y[100:])
    h = selector.objective_history_
    assert all(b <= a for a, b in zip(h, h[1:], strict=False))
    assert selector.validation_indices_ is None
    assert len(selector.sample_indices_) == 30 and selector.sample_indices_.max() < 300
    assert selector.gradient_norms_.max() <= 1.0 and selector.gradient_norms_.min() >= 0.0


def test_mlp_proxy_singles_out_rows_a_linear_proxy_cannot():
    from tabsift.sampling._ot_proxy import gradient_norms

    # XOR classes with 5% flipped labels: a linear proxy cannot fit XOR, so every row looks
    # alike to it; the MLP learns the quadrants, and the flipped rows are the ones it gets wrong.
    rng = np.random.default_rng(0)
    Z = rng.uniform(-1, 1, size=(1000, 2))
    y = ((Z[:, 0] > 0) ^ (Z[:, 1] > 0)).astype(int)
    flipped = rng.choice(1000, 50, replace=False)
    y[flipped] = 1 - y[flipped]
    rest = np.setdiff1d(np.arange(1000), flipped)
    ratios = {}
    for model in ("linear", "mlp"):
        g = gradient_norms(Z, y, "classification", rng=np.random.RandomState(0), model=model)
        assert g.shape == (1000,) and g.min() >= 0.0 and g.max() <= 1.0
        ratios[model] = g[flipped].mean() / g[rest].mean()
    assert ratios["linear"] < 1.3
    assert ratios["mlp"] > 3.0
    # Regression: the MLP proxy's residuals follow a non-linear target.
    target = np.sin(3 * Z[:, 0]) + 0.01 * rng.standard_normal(1000)
    target[flipped] += 3.0
    g = gradient_norms(Z, target, "regression", rng=np.random.RandomState(0), model="mlp")
    assert g[flipped].mean() > 3.0 * g[rest].mean()
    # And through the selector.
    selector = OTCoresetSelector(n_samples=40, proxy="mlp", lam=0.3, validation=200,
                                 random_state=0).fit(Z, y)
    assert selector.gradient_norms_.shape == (800,)
    assert len(selector.sample_indices_) == 40


def test_k_center_exact_matches_brute_force_and_radius():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    selector = KCenterSelector(n_samples=15, algorithm="exact", random_state=0).fit(X, X[:, 0] > 0)
    Z = (X - X.mean(0)) / X.std(0)
    # Brute-force farthest-first from the same first row.
    chosen = [int(selector.sample_indices_[0])]
    d = ((Z - Z[chosen[0]]) ** 2).sum(1)
    for _ in range(14):
        d[chosen] = -1
        chosen.append(int(d.argmax()))
        d = np.minimum(d, ((Z - Z[chosen[-1]]) ** 2).sum(1))
    assert selector.sample_indices_.tolist() == chosen
    true_radius = np.sqrt(
        ((Z[:, None, :] - Z[None, chosen, :]) ** 2).sum(-1).min(1).max()
    )
    assert selector.radius_ == pytest.approx(true_radius, rel=1e-4)
    assert selector.sample_weight_.sum() == 300


def test_k_center_two_level_radius_is_an_upper_bound():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3000, 3))
    selector = KCenterSelector(
        n_samples=30, algorithm="two-level", block_size=500, random_state=0
    ).fit(X, np.zeros(3000))
    Z = (X - X.mean(0)) / X.std(0)
    centers = Z[selector.sample_indices_]
    true_radius = np.sqrt(((Z[:, None, :] - centers[None]) ** 2).sum(-1).min(1).max())
    assert true_radius <= selector.radius_ + 1e-6
    assert selector.sample_weight_.sum() == pytest.approx(3000)


def _other_backend(xp):
    from tabsift.backend import namespace_name

    name = namespace_name(xp)
    if name == "numpy":
        pytest.skip("numpy is the reference these backends are compared with")
    return name


def test_k_center_same_result_on_other_backends(xp):
    import tabsift

    backend = _other_backend(xp)
    data = make_rare_region(n_samples=300, random_state=0)
    expected = KCenterSelector(n_samples=10, algorithm="exact", random_state=0).fit(
        data.data, data.target
    )
    with tabsift.config_context(array_backend=backend):
        got = KCenterSelector(n_samples=10, algorithm="exact", random_state=0).fit(
            data.data, data.target
        )
    assert got.sample_indices_.tolist() == expected.sample_indices_.tolist()


@pytest.mark.parametrize(
    "selector",
    [
        KCenterSelector(n_samples=20, random_state=0),
        OTCoresetSelector(n_samples=20, validation=100, max_swaps=2, random_state=0),
        GraphAttentionSelector(reduction=0.9, epochs=3, random_state=0),
        StratifiedRandomSelector(n_samples=20, random_state=0),
        LLMChoiceSelector(n_samples=20, random_state=0),
    ],
    ids=lambda s: type(s).__name__,
)
def test_array_api_input_selects_the_numpy_rows_and_stays_in_its_library(xp, selector):
    from sklearn.base import clone

    from tabsift.backend import to_numpy

    _other_backend(xp)
    data = make_rare_region(n_samples=400, random_state=0)
    X, y = data.data.to_numpy(), data.target.to_numpy()
    expected = clone(selector).fit(X, y).sample_indices_
    fitted = clone(selector)
    X_res, y_res = fitted.fit_resample(xp.asarray(X), xp.asarray(y))
    assert fitted.sample_indices_.tolist() == expected.tolist()
    assert type(X_res) is type(xp.asarray(X)) and type(y_res) is type(xp.asarray(y))
    np.testing.assert_array_equal(to_numpy(X_res), X[expected])
    np.testing.assert_array_equal(to_numpy(y_res), y[expected])


def test_ot_costs_on_other_backends_select_the_same_rows(xp, monkeypatch):
    import tabsift
    from tabsift.sampling import _ot_coreset

    backend = _other_backend(xp)
    data = make_rare_region(n_samples=600, random_state=1)
    params = dict(n_samples=40, validation=150, max_swaps=4, lam=0.1, random_state=0)
    expected = OTCoresetSelector(**params).fit(data.data, data.target)
    calls = []
    original = _ot_coreset._Costs._chunks_on_backend
    monkeypatch.setattr(
        _ot_coreset._Costs,
        "_chunks_on_backend",
        lambda self, *a: calls.append(1) or original(self, *a),
    )
    with tabsift.config_context(array_backend=backend):
        got = OTCoresetSelector(**params).fit(data.data, data.target)
    assert calls, "the distances were not computed on the configured backend"
    assert sorted(got.sample_indices_) == sorted(expected.sample_indices_)
    np.testing.assert_allclose(got.objective_history_, expected.objective_history_, rtol=1e-5)


@pytest.mark.parametrize(
    "selector",
    [
        KCenterSelector(n_samples=25, algorithm="two-level", block_size=300, random_state=7),
        OTCoresetSelector(n_samples=25, validation=100, max_swaps=3, random_state=7),
        GraphAttentionSelector(reduction=0.9, epochs=5, random_state=7),
        StratifiedRandomSelector(n_samples=25, random_state=7),
        LLMChoiceSelector(n_samples=25, random_state=7),
        HybridCoresetSelector(n_samples=25, random_state=7),
    ],
    ids=lambda s: type(s).__name__,
)
def test_same_seed_same_rows(rare, selector):
    from sklearn.base import clone

    train, _ = rare
    X, y = train.data.iloc[:800], train.target.iloc[:800]
    a = clone(selector).fit(X, y).sample_indices_
    b = clone(selector).fit(X, y).sample_indices_
    assert a.tolist() == b.tolist()


def test_composes_in_imblearn_pipeline(rare):
    from imblearn.pipeline import Pipeline

    train, test = rare
    pipe = Pipeline([
        ("coreset", KCenterSelector(n_samples=50, random_state=0)),
        ("tree", DecisionTreeClassifier(random_state=0)),
    ]).fit(train.data, train.target)
    # The classifier saw only the selected rows; prediction uses every row.
    assert pipe.named_steps["tree"].tree_.n_node_samples[0] == 50
    assert pipe.predict(test.data).shape == (4000,)


def test_errors_name_the_problem(rare):
    train, _ = rare
    with pytest.raises(ValueError, match=r"n_samples=5000 is larger than the number of rows"):
        KCenterSelector(n_samples=5000).fit(train.data, train.target)
    with pytest.raises(ValueError, match=r"class 1 has 3 rows, fewer than its budget of 5"):
        StratifiedRandomSelector(n_samples=10, stratify="balanced").fit(
            train.data.iloc[:23], np.r_[np.zeros(20, int), np.ones(3, int)]
        )
    X = train.data.copy()
    X.loc[[3, 9], "x2"] = np.inf  # NaN is imputed (tests/test_tables_sampling.py); inf is not
    with pytest.raises(ValueError, match=r"column 'x2' has 2 infinite values; OTCoresetSelector"):
        OTCoresetSelector(n_samples=10).fit(X, train.target)
    with pytest.raises(ValueError, match=r"stratify names classes \[7\]"):
        KCenterSelector(n_samples=10, stratify={7: 2}).fit(train.data, train.target)
    with pytest.raises(ValueError, match="Unknown label type|continuous"):
        GraphAttentionSelector().fit(train.data, np.linspace(0, 1, len(train.data)))
    with pytest.raises(TypeError, match="llm must be a tabsift.llm.LLMClient"):
        LLMChoiceSelector("gpt", n_samples=5).fit(train.data, train.target)


def test_regression_targets_without_stratify():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.standard_normal(400)
    for selector in (KCenterSelector(n_samples=20), OTCoresetSelector(n_samples=20, validation=80,
                                                                      max_swaps=2, random_state=0),
                     StratifiedRandomSelector(n_samples=20, stratify=None, random_state=0)):
        X_res, y_res = selector.fit_resample(X, y)
        assert X_res.shape == (20, 3)
        np.testing.assert_array_equal(y_res, y[selector.sample_indices_])


def test_dask_array_and_dataframe_composable_coreset(rare):
    dask = pytest.importorskip("dask")
    import dask.array as da
    import dask.dataframe as dd

    train, _ = rare
    with dask.config.set(scheduler="synchronous"):
        X = da.from_array(train.data.to_numpy(), chunks=(500, 6))
        y = da.from_array(train.target.to_numpy(), chunks=500)
        k = KCenterSelector(n_samples=30, stratify="balanced", random_state=0)
        X_res, y_res = k.fit_resample(X, y)
        assert X_res.shape == (30, 6) and np.bincount(y_res).tolist() == [15, 15]
        np.testing.assert_allclose(X_res, train.data.to_numpy()[k.sample_indices_])
        assert k.n_partitions_ == 4 and k.sample_weight_.sum() == pytest.approx(2000)
        assert train.rare[k.sample_indices_].any()
        Z = (train.data.to_numpy() - train.data.to_numpy().mean(0)) / train.data.to_numpy().std(0)
        true_radius = np.sqrt(
            ((Z[:, None, :] - Z[None, k.sample_indices_, :]) ** 2).sum(-1).min(1).max()
        )
        assert true_radius <= k.radius_ + 1e-5

        frame = dd.from_pandas(train.frame, npartitions=3)
        ot = OTCoresetSelector(n_samples=0.02, validation=100, max_swaps=2, random_state=0)
        X_res, y_res = ot.fit_resample(frame[train.feature_names], frame["target"])
        assert isinstance(X_res, pd.DataFrame) and len(X_res) == 40
        assert list(ot.feature_names_in_) == train.feature_names
        h = ot.objective_history_
        assert all(b <= a for a, b in zip(h, h[1:], strict=False))
    with pytest.raises(TypeError, match="does not accept dask"):
        GraphAttentionSelector().fit(X, y)


def _choice_responder(choice):
    def respond(request):
        return json.dumps({"choice": choice, "reason": "covers a new region"})

    return respond


def test_llm_choice_uses_the_validated_reply(rare):
    train, _ = rare
    X, y = train.data.iloc[:300], train.target.iloc[:300]
    with LocalLLMServer(_choice_responder(2)) as server:
        selector = LLMChoiceSelector(server.client(), n_samples=6, window=5, random_state=0)
        selector.fit(X, y)
        prompt = server.requests[0]["messages"][-1]["content"]
    assert selector.n_llm_choices_ == 4 and selector.n_fallbacks_ == 0
    for entry in selector.choices_:
        assert entry["by"] == "llm" and entry["chosen"] == entry["window"][2]
        assert entry["reason"] == "covers a new region"
    assert selector.sample_indices_[2:].tolist() == [e["chosen"] for e in selector.choices_]
    assert "Class counts: 0: 1, 1: 1" in prompt and "Candidates:" in prompt
    assert '"x0"=' in prompt and "label=" in prompt


def test_llm_choice_invalid_replies_fall_back(rare):
    train, _ = rare
    X, y = train.data.iloc[:300], train.target.iloc[:300]
    replies = iter(['{"choice": 99}', '{"choice": 42}', "no idea", "still no", '{"choice": 1}'])

    def respond(request):
        return next(replies, '{"choice": 0}')

    with LocalLLMServer(respond) as server:
        selector = LLMChoiceSelector(server.client(), n_samples=5, window=4, random_state=0)
        selector.fit(X, y)
        # The retry after an out-of-window index says what was wrong.
        assert "choice must be a candidate number from 0 to 3" in json.dumps(
            server.requests[1]["messages"]
        )
    by = [e["by"] for e in selector.choices_]
    assert by == ["fallback", "fallback", "llm"]
    assert selector.n_fallbacks_ == 2 and selector.n_llm_choices_ == 1
    offline = LLMChoiceSelector(None, n_samples=5, window=4, random_state=0).fit(X, y)
    # Fallback steps pick what the offline criterion picks from the same window.
    assert selector.choices_[0]["chosen"] == offline.choices_[0]["chosen"]


def test_unsupervised_selectors_accept_y_none():
    # issue 16: k-center (and OT with lam=0, no stratify) read no y; imbalanced-learn's
    # FunctionSampler(validate=False) convention: (X_resampled, None).
    X = np.random.RandomState(0).rand(60, 3)
    for selector in (KCenterSelector(n_samples=5, random_state=0),
                     OTCoresetSelector(n_samples=5, lam=0, validation=0.3, random_state=0)):
        X_res, y_res = selector.fit_resample(X)
        assert X_res.shape == (5, 3) and y_res is None
        assert selector.fit_resample(X, None)[1] is None
        assert selector.sampling_strategy_ == {}
    with pytest.raises(ValueError, match="lam=0.05 weighs each row .* pass lam=0"):
        OTCoresetSelector(n_samples=5).fit_resample(X)
    with pytest.raises(ValueError, match="stratify='balanced' .* pass stratify=None"):
        KCenterSelector(n_samples=5, stratify="balanced").fit_resample(X)


def test_list_and_one_hot_targets_follow_imblearn():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 2)
    y = np.repeat([0, 1, 2], [10, 10, 20])
    selector = KCenterSelector(n_samples=6, stratify="proportional", random_state=0)
    X_res, y_res = selector.fit_resample(X.tolist(), y.tolist())
    assert isinstance(X_res, list) and isinstance(y_res, list)
    assert X_res == [X.tolist()[i] for i in selector.sample_indices_]
    kept = y[selector.sample_indices_]
    assert selector.sampling_strategy_ == {c: int(np.sum(kept == c)) for c in (0, 1, 2)}
    one_hot = np.eye(3, dtype=int)[y]
    X_oh, y_oh = selector.fit_resample(X, one_hot)
    np.testing.assert_array_equal(X_oh, X[selector.sample_indices_])
    np.testing.assert_array_equal(y_oh, one_hot[selector.sample_indices_])
    assert selector.__sklearn_tags__().sampler_tags.sample_indices


def _two_blobs_with_flips(n=1200, flip=0.1, seed=0):
    rng = np.random.RandomState(seed)
    y_true = rng.randint(0, 2, n)
    X = rng.randn(n, 4) + 3.0 * y_true[:, None]
    flipped = rng.rand(n) < flip
    return X, np.where(flipped, 1 - y_true, y_true), flipped


def test_hybrid_sets_aside_flipped_labels_and_never_keeps_them():
    from tabsift.sampling._hybrid import suspect_rows

    X, y, flipped = _two_blobs_with_flips()
    Z = (X - X.mean(0)) / X.std(0)
    suspect = suspect_rows(Z, y, n_neighbors=10, threshold=0.5)
    assert suspect[flipped].mean() > 0.85  # most flipped rows are caught
    assert suspect[~flipped].mean() < 0.05  # few clean rows are
    selector = HybridCoresetSelector(n_samples=100, random_state=0).fit(X, y)
    np.testing.assert_array_equal(selector.suspect_, suspect)
    assert not selector.suspect_[selector.sample_indices_].any()
    kept_flipped = flipped[selector.sample_indices_].mean()
    random_flipped = flipped[StratifiedRandomSelector(100, random_state=0).fit(X, y)
                             .sample_indices_].mean()
    assert kept_flipped < 0.03 < random_flipped


def test_hybrid_judges_a_rare_class_against_its_prior():
    from tabsift.sampling._hybrid import suspect_rows

    rng = np.random.RandomState(1)
    # A 3% class overlapping the majority: by raw vote every one of its rows looks mislabelled.
    X = np.vstack([rng.randn(970, 3), rng.randn(30, 3) + 1.5])
    y = np.repeat([0, 1], [970, 30])
    suspect = suspect_rows(X, y, n_neighbors=10, threshold=0.5)
    assert suspect[y == 1].mean() < 0.5


def test_hybrid_budgets_core_and_weights():
    X, y, _ = _two_blobs_with_flips(n=600, flip=0.0, seed=2)
    selector = HybridCoresetSelector(n_samples=40, random_fraction=0.5, random_state=0)
    X_res, y_res = selector.fit_resample(X, y)
    kept = y[selector.sample_indices_]
    assert len(np.unique(selector.sample_indices_)) == 40
    for c in (0, 1):
        budget = np.sum(kept == c)
        assert abs(budget - 40 * np.mean(y == c)) <= 1
        assert selector.from_core_[kept == c].sum() == budget // 2  # floor(0.5 * budget)
        # Each kept row stands for its cell: the class's rows add up.
        assert np.isclose(selector.sample_weight_[kept == c].sum(), np.sum(y == c))
        assert selector.sample_weight_[kept == c].std() > 0
    uniform = HybridCoresetSelector(n_samples=40, weights="uniform", random_state=0).fit(X, y)
    assert np.allclose(uniform.sample_weight_[kept == 0], np.sum(y == 0) / np.sum(kept == 0))


def test_hybrid_coverage_reaches_the_rare_region_and_skips_duplicates(rare):
    train, _ = rare
    X, y, is_rare = train.data.to_numpy(), train.target.to_numpy(), np.asarray(train.rare)
    hits = [is_rare[HybridCoresetSelector(n_samples=40, random_state=s).fit(X, y)
                    .sample_indices_].any() for s in range(5)]
    random_hits = [is_rare[StratifiedRandomSelector(n_samples=40, random_state=s).fit(X, y)
                           .sample_indices_].any() for s in range(5)]
    assert all(hits) and sum(random_hits) < 5
    # 30 distinct rows, each repeated 20 times: every coverage row is a new distinct row.
    base = np.random.RandomState(0).randn(30, 3)
    Xd = np.repeat(base, 20, axis=0)
    yd = np.repeat(np.arange(30) % 2, 20)
    sel = HybridCoresetSelector(n_samples=20, random_fraction=0.0, denoise=0,
                                random_state=0).fit(Xd, yd)
    assert len(np.unique(Xd[sel.sample_indices_], axis=0)) == 20


def test_hybrid_weighted_rows_and_errors():
    X, y, _ = _two_blobs_with_flips(n=300, flip=0.0, seed=3)
    w = np.r_[np.zeros(50), np.ones(250)]
    sel = HybridCoresetSelector(n_samples=30, random_state=0).fit(X, y, sample_weight=w)
    assert (sel.sample_indices_ >= 50).all()
    assert sel.suspect_.shape == (300,)
    assert np.isclose(sel.sample_weight_.sum(), 250)
    with pytest.raises(ValueError, match="random_fraction"):
        HybridCoresetSelector(random_fraction=1.5).fit(X, y)
    with pytest.raises(ValueError, match="fill"):
        HybridCoresetSelector(fill="medoid").fit(X, y)
