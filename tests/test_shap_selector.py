"""ShapSelector: mean |SHAP| of an XGBoost model as a feature selector."""

import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.utils.estimator_checks import parametrize_with_checks

from tabsift.datasets import make_informative
from tabsift.feature_selection import ShapSelector

matplotlib.use("Agg")


@parametrize_with_checks([ShapSelector(n_estimators=10, max_depth=2)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("seed", [0, 1])
def test_ranks_informative_features_first(task, seed):
    data = make_informative(
        n_samples=400, n_features=15, n_informative=4, task=task, random_state=seed
    )
    selector = ShapSelector(n_features_to_select=4, n_estimators=100, random_state=0)
    selector.fit(data.data, data.target)
    assert selector.get_feature_names_out().tolist() == data.informative
    assert selector.task_ == task
    informative = np.isin(data.feature_names, data.informative)
    # Every informative feature outscores every noise feature, by a wide margin.
    assert selector.scores_[informative].min() > 2 * selector.scores_[~informative].max()
    assert selector.scores_.sum() == pytest.approx(1.0)
    assert sorted(selector.ranking_[informative]) == [1, 2, 3, 4]


def test_multiclass_with_string_labels():
    X, y = make_classification(
        n_samples=300,
        n_features=8,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        shuffle=False,
        random_state=0,
    )
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    selector = ShapSelector(n_features_to_select=3, n_estimators=50, random_state=0)
    selector.fit(X, labels)
    assert selector.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert type(selector.estimator_).__name__ == "XGBClassifier"
    assert selector.get_support(indices=True).tolist() == [0, 1, 2]
    assert selector.transform(X).shape == (300, 3)


def test_regression_task_on_whole_numbers():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = np.round(10 * X[:, 3])  # whole numbers: "auto" would call this multiclass
    selector = ShapSelector(1, n_estimators=30, task="regression", random_state=0).fit(X, y)
    assert selector.task_ == "regression"
    assert not hasattr(selector, "classes_")
    assert type(selector.estimator_).__name__ == "XGBRegressor"
    assert selector.get_support(indices=True).tolist() == [3]


def test_number_of_features_kept():
    data = make_informative(n_samples=200, n_features=10, n_informative=3, random_state=0)
    X, y = data.data, data.target
    selector = ShapSelector(n_estimators=20, random_state=0).fit(X, y)
    assert selector.get_support().sum() == 4  # default 0.4 of 10
    # Fractions round down, at least one, as in RFE; 0.6 * 10 = 6.000000000000001 gives 6.
    assert selector.set_params(n_features_to_select=0.6).get_support().sum() == 6
    assert selector.set_params(n_features_to_select=0.05).get_support().sum() == 1
    assert selector.set_params(n_features_to_select=3).get_support().sum() == 3
    with pytest.raises(ValueError, match="n_features_to_select=50 is more than the 10"):
        selector.set_params(n_features_to_select=50).get_support()
    # threshold overrides the count: features above the average importance.
    selector.set_params(threshold=0.1)
    np.testing.assert_array_equal(selector.get_support(), selector.scores_ >= 0.1)
    # The top-k sets are nested (one ranking).
    selector.set_params(threshold=None, n_features_to_select=0.4)
    kept = [
        set(selector.set_params(n_features_to_select=k).get_support(indices=True))
        for k in (1, 3, 5)
    ]
    assert kept[0] <= kept[1] <= kept[2]


def test_nan_is_allowed_and_infinity_is_not():
    data = make_informative(n_samples=300, n_features=6, n_informative=2, random_state=0)
    X = data.data.copy()
    X.iloc[::5, 0] = np.nan
    selector = ShapSelector(2, n_estimators=50, random_state=0).fit(X, data.target)
    assert set(selector.get_feature_names_out()) == set(data.informative)
    X.iloc[3, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        ShapSelector(n_estimators=5).fit(X, data.target)


def test_text_and_category_columns_are_ranked_as_columns():
    # Text and categorical columns used to be refused; XGBoost now splits on them natively.
    X = pd.DataFrame(
        {
            "age": [30.0, 40.0, 50.0, 60.0] * 10,
            "city": ["a", "b", "a", "b"] * 10,
            "ok": [1, 0, 1, 0] * 10,
        }
    )
    X["kind"] = pd.Categorical(["u", "v", "u", "v"] * 10)
    selector = ShapSelector(1, n_estimators=10).fit(X, [0, 1, 0, 1] * 10)
    assert selector.scores_.shape == (4,)
    assert set(selector.get_feature_names_out()) <= set(X.columns)
    assert list(selector.transform(X).dtypes) == [
        X[c].dtype for c in selector.get_feature_names_out()
    ]


def test_target_errors():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="found 1 class"):
        ShapSelector(n_estimators=5).fit(X, np.ones(20, dtype=int))
    with pytest.raises(ValueError, match="task='classification', but y holds continuous numbers"):
        ShapSelector(task="classification").fit(X, X[:, 0])
    with pytest.raises(ValueError, match="Unknown label type"):
        ShapSelector().fit(X, np.array([{"a": 1}] * 10 + [{"b": 2}] * 10, dtype=object))


def test_constant_target_gives_uniform_scores():
    X = np.random.default_rng(0).normal(size=(50, 4))
    selector = ShapSelector(n_estimators=5, task="regression").fit(X, np.full(50, 3.0))
    np.testing.assert_allclose(selector.scores_, 0.25)


def test_max_samples_subsample_is_seeded():
    data = make_informative(n_samples=500, n_features=6, n_informative=2, random_state=1)
    a = ShapSelector(n_estimators=30, max_samples=100, random_state=3).fit(data.data, data.target)
    b = ShapSelector(n_estimators=30, max_samples=100, random_state=3).fit(data.data, data.target)
    full = ShapSelector(n_estimators=30, max_samples=None, random_state=3)
    full.fit(data.data, data.target)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    # A subsample of 100 rows estimates the same importances, not the same numbers.
    assert not np.array_equal(a.scores_, full.scores_)
    np.testing.assert_allclose(a.scores_, full.scores_, atol=0.05)


def test_plot_importances():
    import matplotlib.pyplot as plt

    data = make_informative(n_samples=200, n_features=8, n_informative=2, random_state=0)
    selector = ShapSelector(2, n_estimators=20, random_state=0).fit(data.data, data.target)
    ax = selector.plot_importances(top=5)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(ax.patches) == 5
    # The two best features are on top, drawn in the "selected" colour.
    assert set(labels[:2]) == set(data.informative)
    colours = [matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches]
    assert colours.count(matplotlib.colors.to_hex("tab:blue")) == 2
    plt.close("all")


def test_missing_shap_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "shap", None)
    with pytest.raises(ImportError, match="Missing optional dependency 'shap'"):
        ShapSelector(n_estimators=2).fit([[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1])


def test_import_is_lazy():
    code = (
        "import sys, tabsift.feature_selection._shap; "
        "print(sorted(m for m in ('xgboost', 'shap', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_progress_verbose_zero_is_silent_and_one_names_the_phases(capsys, monkeypatch):
    import pickle

    from tabsift.feature_selection import _shap

    data = make_informative(n_samples=200, n_features=5, n_informative=2, random_state=0)
    params = dict(n_estimators=20, max_depth=2, random_state=0)
    quiet = ShapSelector(**params, verbose=0).fit(data.data, data.target)
    assert capsys.readouterr() == ("", "")
    ShapSelector(**params).fit(data.data, data.target)  # "auto" on a small fit: silent
    assert capsys.readouterr() == ("", "")
    loud = ShapSelector(**params, verbose=1).fit(data.data, data.target)
    out, err = capsys.readouterr()
    assert out == ""
    assert "ShapSelector: fitting XGBoost" in err and "ShapSelector: SHAP values" in err
    # The bars change nothing: rows explained in chunks give the same SHAP values.
    np.testing.assert_array_equal(quiet.scores_, loud.scores_)
    assert loud.estimator_.get_params()["callbacks"] is None
    pickle.loads(pickle.dumps(loud))
    # A fit estimated long: "auto" shows the bars when someone watches (a terminal or a
    # notebook; pytest's captured stderr is neither).
    from tabsift.utils import _progress

    monkeypatch.setattr(_shap, "_AUTO_PROGRESS_SECONDS", 0.0)
    ShapSelector(**params).fit(data.data, data.target)
    assert capsys.readouterr() == ("", "")
    monkeypatch.setattr(_progress, "_someone_watches", lambda: True)
    monkeypatch.setattr(_progress, "AUTO_DELAY", 0.0)
    ShapSelector(**params).fit(data.data, data.target)
    assert "ShapSelector: fitting XGBoost" in capsys.readouterr().err


def test_auto_progress_estimate_flags_the_long_fit():
    assert ShapSelector()._resolve_verbose((20_000, 200)) == "auto"
    assert ShapSelector()._resolve_verbose((300, 8)) == 0
    assert ShapSelector(verbose=0)._resolve_verbose((20_000, 200)) == 0
