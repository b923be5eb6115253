"""sample_weight in the feature selectors: weights against the equivalent repeated rows.

An integer weight ``k`` on a row means that row repeated ``k`` times. Where the
computation is deterministic (a KAN's loss, a full-batch training run, the
held-out scores, XGBoost's fit and its mean |SHAP|) the weighted result is
compared with the repeated-rows result; where rows are drawn at random (CV
folds, mini-batches, the held-out split), behavioural tests check that the
weights take effect.
"""

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from tabsift.feature_selection import KANSelector, PermutationImportanceSelector, ShapSelector

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from tabsift.feature_selection._importance import compute_scores  # noqa: E402
from tabsift.feature_selection._kan_network import TabsiftKANEngine  # noqa: E402


def _data(task, n=40, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if task == "classification":
        y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    else:
        y = X[:, 0] ** 2 + X[:, 1] + 0.1 * rng.normal(size=n)
    w = rng.integers(0, 4, size=n)
    w[:2] = (1, 3)  # some weight on both of the first rows whatever the draw
    return X, y, w


def _repeat(w, *arrays):
    return [np.repeat(a, w, axis=0) for a in arrays]


def _engine(task, spline_order=1, seed=0, n_inputs=4):
    return TabsiftKANEngine(
        n_inputs=n_inputs,
        n_outputs=2 if task == "classification" else 1,
        hidden_width=5,
        grid_size=3,
        spline_order=spline_order,
        grid_range=(-1.0, 1.0),
        task=task,
        device="cpu",
        seed=seed,
    )


def _tensors(task, X, y):
    dtype = torch.int64 if task == "classification" else torch.float32
    return torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=dtype)


def _parameters(engine):
    return [p.detach().clone() for p in engine.network.parameters()]


# ------------------------------------------------------------------ the KAN engine
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_kan_loss_of_a_fixed_network_weighted_equals_repeated(task):
    X, y, w = _data(task)
    Xr, yr = _repeat(w, X, y)
    engine = _engine(task)
    weighted = engine.loss(*_tensors(task, X, y), sample_weight=w)
    repeated = engine.loss(*_tensors(task, Xr, yr))
    assert weighted == pytest.approx(repeated, rel=1e-6)
    # The weights matter: the unweighted loss is another number.
    assert engine.loss(*_tensors(task, X, y)) != pytest.approx(repeated, rel=1e-3)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize(
    "spline_order, explicit", [(1, True), (1, False), (2, True)], ids=["hat", "autograd1", "order2"]
)
def test_full_batch_training_weighted_equals_repeated(task, spline_order, explicit, monkeypatch):
    # Full batch (batch_size >= every row count), same seed hence same initial weights:
    # the weighted loss and the repeated rows' loss are the same function, so Adam takes
    # the same steps.
    monkeypatch.setattr(TabsiftKANEngine, "_explicit_backward", explicit)
    X, y, w = _data(task)
    Xr, yr = _repeat(w, X, y)
    training = dict(epochs=15, batch_size=1000, learning_rate=1e-2)
    weighted = _engine(task, spline_order).fit(*_tensors(task, X, y), sample_weight=w, **training)
    repeated = _engine(task, spline_order).fit(*_tensors(task, Xr, yr), **training)
    unweighted = _engine(task, spline_order).fit(*_tensors(task, X, y), **training)
    for a, b in zip(_parameters(weighted), _parameters(repeated), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(weighted.loss_history_, repeated.loss_history_, rtol=1e-5)
    moved = max(
        float((a - b).abs().max())
        for a, b in zip(_parameters(weighted), _parameters(unweighted), strict=True)
    )
    assert moved > 1e-3


def test_unit_weights_train_exactly_as_no_weights():
    X, y, _ = _data("classification")
    training = dict(epochs=4, batch_size=16, learning_rate=1e-2)
    ones = _engine("classification").fit(
        *_tensors("classification", X, y), sample_weight=np.ones(len(y)), **training
    )
    plain = _engine("classification").fit(*_tensors("classification", X, y), **training)
    for a, b in zip(_parameters(ones), _parameters(plain), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_fit_together_with_weights_equals_each_weighted_fit(task):
    # Mini-batches: joint training of several weighted networks is each weighted fit.
    sets = [_data(task, n=n, seed=s) for n, s in ((40, 0), (33, 1), (47, 2))]
    training = dict(epochs=3, batch_size=8, learning_rate=1e-2)
    together = [_engine(task, seed=k) for k in range(3)]
    TabsiftKANEngine.fit_together(
        together,
        [_tensors(task, X, y) for X, y, _ in sets],
        sample_weights=[w for _, _, w in sets],
        **training,
    )
    for k, (X, y, w) in enumerate(sets):
        alone = _engine(task, seed=k).fit(*_tensors(task, X, y), sample_weight=w, **training)
        for a, b in zip(_parameters(together[k]), _parameters(alone), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method, reading", [
    ("l1", "contribution"), ("l2", "contribution"), ("l2", "coefficients"), ("si", None),
    ("ko", None),
])
@pytest.mark.parametrize("grouped", [False, True])
def test_held_out_scores_weighted_equal_repeated(method, reading, grouped):
    X, y, w = _data("classification")
    Xr, yr = _repeat(w, X, y)
    engine = _engine("classification")
    engine.fit(*_tensors("classification", X, y), epochs=5, batch_size=16, learning_rate=1e-2)
    groups, n_groups = (np.array([0, 1, 1, 2]), 3) if grouped else (None, None)
    reading = reading or "contribution"
    weighted = compute_scores(
        engine, method, reading, *_tensors("classification", X, y), groups, n_groups, w
    )
    repeated = compute_scores(
        engine, method, reading, *_tensors("classification", Xr, yr), groups, n_groups
    )
    np.testing.assert_allclose(weighted, repeated, rtol=1e-4, atol=1e-7)


# ------------------------------------------------------------------ KANSelector
@pytest.mark.parametrize("method", ["l1", "l2", "si", "ko"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_kan_selector_single_fold_full_batch_weighted_equals_repeated(method, task):
    # cv=1 (no split) and a full batch: nothing is drawn per row, so the whole fit
    # (weighted standardisation, training, scores) equals the fit on repeated rows.
    X, y, w = _data(task)
    Xr, yr = _repeat(w, X, y)
    params = dict(
        method=method, cv=1, epochs=10, batch_size=1000, learning_rate=1e-2, task=task,
        random_state=0,
    )
    weighted = KANSelector(**params).fit(X, y, sample_weight=w)
    repeated = KANSelector(**params).fit(Xr, yr)
    np.testing.assert_allclose(weighted.scores_, repeated.scores_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(weighted.fold_losses_, repeated.fold_losses_, rtol=1e-5)
    np.testing.assert_allclose(weighted.x_mean_per_fold_, repeated.x_mean_per_fold_)
    np.testing.assert_allclose(weighted.y_scale_per_fold_, repeated.y_scale_per_fold_)
    unweighted = KANSelector(**params).fit(X, y)
    assert not np.allclose(unweighted.scores_, repeated.scores_, rtol=1e-3, atol=1e-4)


def test_kan_selector_mixed_table_weighted_equals_repeated():
    rng = np.random.default_rng(1)
    n = 50
    table = pd.DataFrame({
        "grade": rng.choice(["low", "mid", "high"], n),
        "size": rng.normal(size=n),
        "noise": rng.normal(size=n),
    })
    y = ((table["grade"] == "high") | (table["size"] > 0.5)).astype(int).to_numpy()
    w = rng.integers(1, 4, size=n)
    repeated = table.loc[table.index.repeat(w)].reset_index(drop=True)
    for method in ("l2", "si", "ko"):
        params = dict(method=method, cv=1, epochs=8, batch_size=1000, learning_rate=1e-2,
                      random_state=0)
        a = KANSelector(**params).fit(table, y, sample_weight=w)
        b = KANSelector(**params).fit(repeated, np.repeat(y, w))
        np.testing.assert_allclose(a.scores_, b.scores_, rtol=1e-4, atol=1e-6)


def _two_regimes(n=240, seed=0):
    """y follows x0 on the first half of the rows and x1 on the second half."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    half = np.arange(n) < n // 2
    y = np.where(half, X[:, 0] > 0, X[:, 1] > 0).astype(int)
    return X, y, half


@pytest.mark.parametrize("method", ["l2", "ko"])
def test_kan_selector_weights_decide_which_regime_counts(method):
    # With CV folds and mini-batches (drawn over rows) the fit is not the repeated one,
    # but weights that silence a half of the rows make the other half's feature win.
    X, y, half = _two_regimes()
    params = dict(method=method, n_features_to_select=1, cv=3, epochs=40, batch_size=32,
                  learning_rate=1e-2, random_state=0)
    first = KANSelector(**params).fit(X, y, sample_weight=np.where(half, 1.0, 0.02))
    second = KANSelector(**params).fit(X, y, sample_weight=np.where(half, 0.02, 1.0))
    assert first.support_.tolist() == [True, False, False, False]
    assert second.support_.tolist() == [False, True, False, False]


def test_kan_selector_sample_weight_errors():
    X, y, w = _data("classification")
    selector = KANSelector(cv=2, epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"sample_weight has 1 negative .*KANSelector needs"):
        selector.fit(X, y, sample_weight=np.r_[-1.0, np.ones(len(y) - 1)])
    with pytest.raises(ValueError, match="sample_weight is zero on every row; KANSelector needs"):
        selector.fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="sample_weight"):
        selector.fit(X, y, sample_weight=np.ones(len(y) + 1))
    with pytest.raises(ValueError, match="engine='tabsift'"):
        KANSelector(engine="pykan", cv=2, epochs=1).fit(X, y, sample_weight=w)
    # A fold whose held-out rows weigh nothing is named.
    only_first = np.r_[np.ones(2), np.zeros(len(y) - 2)]  # 2 rows cannot fill 4 folds
    with pytest.raises(ValueError, match=r"rows of fold \d/\d all have sample_weight 0"):
        KANSelector(cv=4, epochs=1, random_state=0).fit(X, y, sample_weight=only_first)


# ------------------------------------------------------------------ ShapSelector
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_shap_selector_weighted_equals_repeated(task):
    pytest.importorskip("xgboost")
    pytest.importorskip("shap")
    X, y, w = _data(task, n=80, d=5)
    Xr, yr = _repeat(w, X, y)
    params = dict(n_estimators=20, max_depth=2, max_samples=None, task=task, random_state=0)
    weighted = ShapSelector(**params).fit(X, y, sample_weight=w)
    repeated = ShapSelector(**params).fit(Xr, yr)
    np.testing.assert_allclose(weighted.scores_, repeated.scores_, rtol=1e-5, atol=1e-6)
    unweighted = ShapSelector(**params).fit(X, y)
    assert not np.allclose(unweighted.scores_, repeated.scores_, rtol=1e-3, atol=1e-5)


def test_shap_selector_explains_only_weighted_rows_when_subsampling():
    pytest.importorskip("xgboost")
    pytest.importorskip("shap")
    X, y, half = _two_regimes(n=300)
    w = np.where(half, 1.0, 0.0)
    # 150 weighted rows, 100 explained: drawn among the weighted rows only, so the
    # feature of the silenced half gets (almost) no attribution.
    selector = ShapSelector(n_features_to_select=1, n_estimators=30, max_depth=2,
                            max_samples=100, random_state=0).fit(X, y, sample_weight=w)
    assert selector.get_support().tolist() == [True, False, False, False]
    assert selector.scores_[1] < 0.1 * selector.scores_[0]
    with pytest.raises(ValueError, match=r"sample_weight has 1 negative .*ShapSelector needs"):
        ShapSelector().fit(X, y, sample_weight=np.r_[-1.0, np.ones(len(y) - 1)])


# ---------------------------------------------------- PermutationImportanceSelector
def test_permutation_selector_passes_weights_to_fit_and_to_the_score():
    X, y, w = _data("classification", n=120, d=5)
    w = w.astype(float)
    selector = PermutationImportanceSelector(
        LogisticRegression(), n_repeats=3, random_state=0
    ).fit(X, y, sample_weight=w)
    # The same split and seeds, done by hand with the weights in both places.
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    train, val = selector._split(y, "classification", seed)
    model = LogisticRegression().fit(X[train], y[train], sample_weight=w[train])
    np.testing.assert_allclose(selector.estimator_.coef_, model.coef_)
    expected = permutation_importance(
        model, X[val], y[val], n_repeats=3, random_state=seed, sample_weight=w[val]
    )
    np.testing.assert_allclose(selector.scores_, expected.importances_mean)
    unweighted = PermutationImportanceSelector(
        LogisticRegression(), n_repeats=3, random_state=0
    ).fit(X, y)
    assert not np.allclose(unweighted.scores_, selector.scores_)


def test_permutation_selector_progress_counts_weighted_passes(capsys, monkeypatch):
    """The bar's counting scorer passes the weights through and changes no score."""
    from tabsift.feature_selection import _permutation

    X, y, w = _data("classification", n=120, d=5)
    params = dict(estimator=LogisticRegression(), n_repeats=3, random_state=0)
    quiet = PermutationImportanceSelector(**params, verbose=0).fit(X, y, sample_weight=w)
    assert capsys.readouterr() == ("", "")
    PermutationImportanceSelector(**params).fit(X, y, sample_weight=w)  # "auto", fast: silent
    assert capsys.readouterr() == ("", "")
    loud = PermutationImportanceSelector(**params, verbose=1).fit(X, y, sample_weight=w)
    out, err = capsys.readouterr()
    assert out == ""
    # One pass on the intact rows, then 5 columns x 3 shuffles.
    assert "PermutationImportanceSelector: permuting features" in err and "/16 " in err
    np.testing.assert_array_equal(quiet.scores_, loud.scores_)
    # Estimated long: "auto" shows the bar when someone watches (pytest's stderr is not).
    from tabsift.utils import _progress

    monkeypatch.setattr(_permutation, "_AUTO_PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(_progress, "_someone_watches", lambda: True)
    monkeypatch.setattr(_progress, "AUTO_DELAY", 0.0)
    PermutationImportanceSelector(**params).fit(X, y, sample_weight=w)
    assert "permuting features" in capsys.readouterr().err


@pytest.mark.parametrize("routing", [False, True])
def test_permutation_selector_weighted_mixed_table(routing):
    # A mixed table's model is a pipeline (encoder, model); its weighted score must work
    # with metadata routing enabled too.
    rng = np.random.default_rng(0)
    n = 120
    table = pd.DataFrame({"grade": rng.choice(["a", "b"], n), "x": rng.normal(size=n)})
    y = (table["grade"] == "a").astype(int).to_numpy()
    with sklearn.config_context(enable_metadata_routing=routing):
        selector = PermutationImportanceSelector(
            LogisticRegression(), n_features_to_select=1, n_repeats=3, random_state=0
        ).fit(table, y, sample_weight=rng.uniform(0.5, 2.0, size=n))
    assert selector.get_feature_names_out().tolist() == ["grade"]


def test_permutation_selector_refuses_an_estimator_without_weights():
    X, y, w = _data("classification", n=60)
    with pytest.raises(ValueError, match="KNeighborsClassifier takes no sample_weight"):
        PermutationImportanceSelector(KNeighborsClassifier()).fit(X, y, sample_weight=w)


# ------------------------------------------------------------------ metadata routing
def _selectors():
    yield KANSelector(cv=2, epochs=3, hidden_width=3, random_state=0)
    yield PermutationImportanceSelector(LogisticRegression(), n_repeats=2, random_state=0)
    if _has("xgboost") and _has("shap"):
        yield ShapSelector(n_estimators=10, max_depth=2, random_state=0)


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.mark.parametrize("selector", list(_selectors()), ids=lambda s: type(s).__name__)
def test_metadata_routing_reaches_the_selector(selector):
    X, y, w = _data("classification", n=90, d=5)
    w = w.astype(float)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([
            ("select", clone(selector).set_fit_request(sample_weight=True)),
            (
                "model",
                LogisticRegression()
                .set_fit_request(sample_weight=False)
                .set_score_request(sample_weight=True),
            ),
        ])
        result = cross_validate(
            pipe, X, y, cv=KFold(3), params={"sample_weight": w}, return_estimator=True,
            return_indices=True,
        )
    for fitted, train in zip(result["estimator"], result["indices"]["train"], strict=True):
        direct = clone(selector).fit(X[train], y[train], sample_weight=w[train])
        np.testing.assert_allclose(fitted.named_steps["select"].scores_, direct.scores_)
        plain = clone(selector).fit(X[train], y[train])
        assert not np.allclose(plain.scores_, direct.scores_)


def test_kan_selector_weights_with_a_torch_tensor_match_numpy():
    # A tensor takes the device path (standardised where it lives): same weighted scores.
    X, y, w = _data("regression")
    params = dict(cv=2, epochs=5, batch_size=16, learning_rate=1e-2, random_state=0)
    on_host = KANSelector(**params).fit(X, y, sample_weight=w)
    as_tensor = KANSelector(**params).fit(torch.as_tensor(X), y, sample_weight=torch.as_tensor(w))
    np.testing.assert_allclose(as_tensor.scores_, on_host.scores_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(as_tensor.x_mean_per_fold_, on_host.x_mean_per_fold_)
