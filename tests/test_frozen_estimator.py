"""FrozenCorrections as a scikit-learn estimator: clone, params, Pipeline, pickle, labels.

Its tags skip scikit-learn's common checks (as sklearn's own FrozenEstimator's do: the
checks fit on their own data, a frozen model reads only the table it was fit on), so
this file tests the estimator API directly.
"""

import json
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from tabsift.residual import FrozenCorrections, ResidualAgentClassifier
from tabsift.residual._format import CorrectionsFormatError


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(limits=1):
        yield


def _regression_doc(coefficient=0.5):
    return {
        "format": "tabsift.residual.corrections",
        "version": 1,
        "task": "regression",
        "feature_names": ["x0", "x1"],
        "intercept": 0.0,
        "corrections": [{"expression": "x0 * x1", "coefficient": coefficient}],
    }


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 2)), columns=["x0", "x1"])
    base = LinearRegression().fit(X.to_numpy(), X["x0"] + X["x0"] * X["x1"])
    return base, X


@pytest.fixture(scope="module")
def string_classifier():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(600, 3)), columns=["x0", "x1", "x2"])
    score = X["x0"] + 2 * X["x1"] * X["x2"]
    y = pd.Series(np.where(score > 0.7, "high", np.where(score < -0.7, "low", "mid")), dtype=object)
    model = ResidualAgentClassifier(
        LogisticRegression(), n_rounds=1, cv=3, n_jobs=1, random_state=0
    ).fit(X, y)
    assert model.corrections_
    return model, X


def test_construction_stores_parameters_and_reads_nothing(tmp_path):
    frozen = FrozenCorrections(LinearRegression(), tmp_path / "nowhere.json")
    assert frozen.get_params(deep=False) == {
        "base_estimator": frozen.base_estimator,
        "corrections": tmp_path / "nowhere.json",
    }
    with pytest.raises(FileNotFoundError, match="does not exist"):
        frozen.fit(np.ones((2, 2)))


def test_clone_and_set_params_reread_the_corrections(regression):
    base, X = regression
    frozen = FrozenCorrections(base, _regression_doc()).fit(X)
    copy = clone(frozen)
    assert not hasattr(copy, "corrections_")
    np.testing.assert_allclose(copy.predict(X), frozen.predict(X))  # read on first use
    copy.set_params(corrections=_regression_doc(coefficient=0.0))
    np.testing.assert_allclose(copy.predict(X), base.predict(X.to_numpy()))
    assert copy.get_params()["corrections"]["corrections"][0]["coefficient"] == 0.0
    assert "FrozenCorrections(base_estimator=LinearRegression()" in repr(frozen)


def test_fit_never_refits_the_base_and_checks_the_columns(regression):
    base, X = regression
    coef = base.coef_.copy()
    frozen = FrozenCorrections(base, _regression_doc())
    assert frozen.fit(X, np.zeros(len(X))) is frozen
    np.testing.assert_array_equal(base.coef_, coef)
    assert list(frozen.feature_names_in_) == ["x0", "x1"] and frozen.task_ == "regression"
    assert is_regressor(frozen) and not hasattr(frozen, "predict_proba")
    with pytest.raises(ValueError, match="lacks the column"):
        frozen.fit(X[["x0"]])


def test_pipeline_and_pickle(regression):
    base, X = regression
    frozen = FrozenCorrections(base, _regression_doc())
    pipe = make_pipeline(FunctionTransformer(feature_names_out="one-to-one"), frozen).fit(X)
    np.testing.assert_allclose(
        pipe.predict(X), base.predict(X.to_numpy()) + 0.5 * X["x0"] * X["x1"]
    )
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_allclose(again.predict(X), pipe.predict(X))


def test_labels_keep_the_fitted_models_dtype_and_target_class_is_a_label(string_classifier):
    model, X = string_classifier
    data = json.loads(json.dumps(model.export_corrections()))
    assert data["target_class_kind"] == "label"
    assert {c["target_class"] for c in data["corrections"]} <= {"high", "low", "mid"}
    frozen = FrozenCorrections(model.base_estimator_, data).fit(X)
    assert is_classifier(frozen)
    predicted = frozen.predict(X)
    assert predicted.dtype == model.predict(X).dtype == object
    np.testing.assert_array_equal(predicted, model.predict(X))
    np.testing.assert_allclose(frozen.predict_proba(X), model.predict_proba(X))


def test_old_files_with_class_indices_still_load(string_classifier):
    model, X = string_classifier
    old = json.loads(json.dumps(model.export_corrections()))
    del old["target_class_kind"]
    classes = list(model.classes_)
    for item in old["corrections"]:
        item["target_class"] = classes.index(item["target_class"])
    frozen = FrozenCorrections(model.base_estimator_, old)
    np.testing.assert_allclose(frozen.predict_proba(X), model.predict_proba(X))


def test_an_unknown_label_names_the_field(string_classifier):
    model, X = string_classifier
    data = json.loads(json.dumps(model.export_corrections()))
    data["corrections"][0]["target_class"] = "medium"
    with pytest.raises(
        CorrectionsFormatError, match=r"corrections\[0\]\.target_class must be one of the classes"
    ):
        FrozenCorrections(model.base_estimator_, data).fit(X)
    data["corrections"][0]["target_class"] = "high"
    data["target_class_kind"] = "position"
    with pytest.raises(CorrectionsFormatError, match="target_class_kind must be one of"):
        FrozenCorrections(model.base_estimator_, data).fit(X)
