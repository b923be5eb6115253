"""ResidualAgentRegressor / ResidualAgentClassifier offline, Correction and FrozenCorrections."""

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import f1_score, log_loss, mean_squared_error
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from tabsift.datasets import make_missing_interaction
from tabsift.expr import ExpressionError
from tabsift.residual import (
    Correction,
    FrozenCorrections,
    ResidualAgentClassifier,
    ResidualAgentRegressor,
    plot_residuals,
)
from tabsift.residual._format import CorrectionsFormatError


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # The models here are tiny: BLAS threads only add overhead (and stall on a busy CI box).
    with threadpool_limits(limits=1):
        yield


def _planted(n, seed, noise=0.1):
    data = make_missing_interaction(n_samples=n, noise=noise, random_state=seed)
    return data.data, data.target.to_numpy()


def _regressor(base=None, **params):
    params = {"n_corrections": 2, "n_rounds": 2, "cv": 3, "n_jobs": 1, "random_state": 0, **params}
    return ResidualAgentRegressor(base if base is not None else LinearRegression(), **params)


@pytest.fixture(scope="module")
def planted_fit():
    X, y = _planted(600, 0)
    return _regressor().fit(X, y)


# ------------------------------------------------------------------ regression
def test_offline_finds_the_planted_mechanism_and_held_out_error_drops(planted_fit):
    model = planted_fit
    columns = [set(c.columns) for c in model.corrections_]
    # The planted mechanism: 1.8 * sigmoid(2 * x1 * x2) + 0.4 * x3 ** 2.
    assert {"x1", "x2"} in columns and {"x3"} in columns
    by_columns = {frozenset(c.columns): c for c in model.corrections_}
    square = by_columns[frozenset({"x3"})]
    assert square.expression == "x3 ** 2"
    assert square.coefficient == pytest.approx(0.4, abs=0.05)
    assert "sigmoid" in by_columns[frozenset({"x1", "x2"})].expression
    assert all(c.source == "offline" and c.validation_gain > 0 for c in model.corrections_)

    X_test, y_test = _planted(2000, 1)
    base = LinearRegression().fit(*_planted(600, 0))
    base_mse = mean_squared_error(y_test, base.predict(X_test))
    mse = mean_squared_error(y_test, model.predict(X_test))
    assert mse < 0.15 * base_mse
    assert model.validation_scores_["corrected"] < model.validation_scores_["base"]


def test_default_xgboost_base_gets_better_too():
    X, y = _planted(400, 0)
    model = ResidualAgentRegressor(n_rounds=1, cv=3, n_jobs=1, random_state=0).fit(X, y)
    assert type(model.base_estimator_).__name__ == "XGBRegressor"
    X_test, y_test = _planted(1500, 3)
    base_mse = mean_squared_error(y_test, model.base_estimator_.predict(X_test.to_numpy()))
    # XGBoost already captures much of the mechanism; the interaction it approximates
    # with steps is still worth a smooth term.
    assert [set(c.columns) for c in model.corrections_] == [{"x1", "x2"}]
    assert mean_squared_error(y_test, model.predict(X_test)) < 0.95 * base_mse


def test_residuals_are_out_of_fold_so_a_memorising_base_still_shows_structure():
    # A fully grown tree has zero in-sample residuals: in-sample residuals (the released
    # code's flaw) would show nothing to correct. Out-of-fold ones point at x3 (0.4 x3**2).
    X, y = _planted(400, 4)
    model = _regressor(DecisionTreeRegressor(random_state=0), n_rounds=1).fit(X, y)
    assert np.allclose(model.base_estimator_.predict(X.to_numpy()), y)
    assert model.validation_scores_["base"] > 0.1
    relevance = model.trace_[0]["hypothesis"]
    assert relevance.split(": ")[1].startswith("x3=")
    proposed = [t for t in model.trace_ if t["step"] == "add"][0]
    assert "x3" in proposed["formula"]


def test_no_correction_is_kept_for_noise():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.standard_normal((400, 4)), columns=list("abcd"))
    y = X["a"].to_numpy() - 2 * X["b"].to_numpy() + rng.standard_normal(400)
    model = _regressor(n_rounds=1).fit(X, y)
    assert model.corrections_ == []
    assert any(step["status"] == "rejected" for step in model.trace_)
    np.testing.assert_array_equal(model.predict(X), model.base_estimator_.predict(X.to_numpy()))


def test_no_clipping_to_a_default_range_and_coefficients_scale_with_the_target(planted_fit):
    X, y = _planted(600, 0)
    scaled = _regressor().fit(X, 1000.0 * y + 5000.0)
    assert [c.expression for c in scaled.corrections_] == [
        c.expression for c in planted_fit.corrections_
    ]
    for small, big in zip(planted_fit.corrections_, scaled.corrections_, strict=True):
        assert big.coefficient == pytest.approx(1000 * small.coefficient, rel=1e-6)
    pred = scaled.predict(X)
    assert pred.min() < 4000 and pred.max() > 6000  # far outside (0, 1)


def test_same_seed_same_result_and_numpy_input_uses_generic_names():
    X, y = _planted(300, 5)
    a = _regressor(n_rounds=1).fit(X.to_numpy(), y)
    b = _regressor(n_rounds=1).fit(X.to_numpy(), y)
    assert a.corrections_ == b.corrections_
    assert a.trace_ == b.trace_
    np.testing.assert_array_equal(a.predict(X.to_numpy()), b.predict(X.to_numpy()))
    assert {col for c in a.corrections_ for col in c.columns} <= {"x0", "x1", "x2", "x3", "x4"}


def test_verbose_shows_progress_and_zero_is_silent(capsys):
    X, y = _planted(200, 5)
    _regressor(n_rounds=1, verbose=0).fit(X, y)
    assert capsys.readouterr().err == ""
    _regressor(n_rounds=1, verbose=1).fit(X, y)
    assert "rounds" in capsys.readouterr().err


def test_trace_records_every_step(planted_fit):
    steps = {(t["step"], t["status"]) for t in planted_fit.trace_}
    assert ("relevance", "info") in steps and ("add", "accepted") in steps
    accepted = [t for t in planted_fit.trace_ if t["status"] == "accepted"]
    assert all("formula" in t and t["validation_loss"] > 0 for t in accepted)
    json.dumps(planted_fit.trace_)  # JSON-able


def test_tiny_data_and_zero_corrections_keep_the_base_model():
    X, y = _planted(12, 6)
    model = _regressor().fit(X, y)
    assert model.corrections_ == [] and model.trace_[0]["status"] == "skipped"
    assert "too few" in model.trace_[0]["reason"]
    X, y = _planted(200, 6)
    model = _regressor(n_corrections=0).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), model.base_estimator_.predict(X.to_numpy()))


def test_bad_parameters_and_inputs_give_clear_errors():
    X, y = _planted(100, 7)
    with pytest.raises(InvalidParameterError, match="validation_fraction"):
        _regressor(validation_fraction=1.5).fit(X, y)
    with pytest.raises(ValueError, match="feature_descriptions names column"):
        _regressor(feature_descriptions={"nope": "?"}).fit(X, y)
    bad = X.copy()
    bad.iloc[3, 1] = np.nan
    # A linear base cannot take NaN: the message names the column, the count and the fixes.
    with pytest.raises(ValueError, match=r"column 'x2' has 1 NaN value; .*SimpleImputer"):
        _regressor().fit(bad, y)
    # Text columns are no longer refused: they reach the base model as categories.
    assert _regressor(n_corrections=0).fit(X.assign(city="Paris"), y).n_features_in_ == 6
    with pytest.raises(ValueError, match="use ResidualAgentClassifier"):
        _regressor().fit(X, np.where(y > 0, "hi", "lo"))
    with pytest.raises(ValueError, match="no predict_proba"):
        ResidualAgentClassifier(LinearSVC()).fit(X, y > 0)


def test_plot_residuals(planted_fit):
    axes = planted_fit.plot_residuals()
    assert [a.get_xlabel() for a in axes] == ["x1", "x2", "x3"]
    ax = plot_residuals(planted_fit, feature="x3")
    assert ax.get_xlabel() == "x3" and len(ax.collections) == 2
    with pytest.raises(ValueError, match="one panel"):
        planted_fit.plot_residuals(ax=ax)
    with pytest.raises(ValueError, match="not a number column"):
        planted_fit.plot_residuals(feature="zz")


# ------------------------------------------------------------------ classification
def _classes(n, seed, k):
    X, y = _planted(n, seed)
    edges = np.quantile(y, np.linspace(0, 1, k + 1)[1:-1])
    return X, np.array(["low", "mid", "high"])[np.digitize(y, edges)] if k == 3 else (y > edges[0])


def test_binary_classifier_corrects_logits_and_improves_held_out_loss():
    X, y = _classes(800, 8, 2)
    model = ResidualAgentClassifier(
        LogisticRegression(), n_rounds=1, cv=3, n_jobs=1, random_state=0
    ).fit(X, y)
    assert model.corrections_ and all(c.target_class == 1 for c in model.corrections_)
    assert 0 < model.blend_weight_ <= 1
    X_test, y_test = _classes(2000, 9, 2)
    base = LogisticRegression().fit(X, y)
    assert log_loss(y_test, model.predict_proba(X_test)) < 0.9 * log_loss(
        y_test, base.predict_proba(X_test)
    )
    assert f1_score(y_test, model.predict(X_test), average="macro") > f1_score(
        y_test, base.predict(X_test), average="macro"
    )
    ax = model.plot_residuals(feature="x1")
    assert ax.get_ylabel() == "1 - P(true class)"


def test_multiclass_classifier_has_per_class_corrections():
    X, y = _classes(900, 10, 3)
    model = ResidualAgentClassifier(
        LogisticRegression(), n_rounds=1, cv=3, n_jobs=1, random_state=0
    ).fit(X, y)
    assert list(model.classes_) == ["high", "low", "mid"]
    assert model.corrections_
    # A correction names the class it corrects by its label, not its position.
    assert all(c.target_class in {"high", "low", "mid"} for c in model.corrections_)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    X_test, y_test = _classes(2000, 11, 3)
    base = LogisticRegression().fit(X, y)
    assert log_loss(y_test, model.predict_proba(X_test)) < log_loss(
        y_test, base.predict_proba(X_test)
    )


# ------------------------------------------------------------------ records and export
def test_correction_record_validates_and_round_trips():
    c = Correction("x1*x2", 2, explanation="e", target_class=1)
    assert c.expression == "x1 * x2" and c.coefficient == 2.0
    assert Correction.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(ExpressionError):
        Correction("__import__('os').system('x')", 1.0)
    with pytest.raises(ValueError, match="finite"):
        Correction("x", float("nan"))
    with pytest.raises(ValueError, match="source"):
        Correction("x", 1.0, source="magic")
    tampered = c.to_dict()
    tampered["expression"] = "x1 + x2"
    with pytest.raises(ValueError, match="does not match"):
        Correction.from_dict(tampered)


def test_frozen_corrections_reject_bad_json(planted_fit):
    data = planted_fit.export_corrections()
    X_new, _ = _planted(5, 1)
    with pytest.raises(ValueError, match="format"):
        FrozenCorrections(planted_fit.base_estimator_, {**data, "format": "other"}).fit(X_new)
    evil = json.loads(json.dumps(data))
    evil["corrections"][0] = {"expression": "open('/etc/passwd')", "coefficient": 1.0}
    with pytest.raises(CorrectionsFormatError, match=r"corrections\[0\]\.expression") as info:
        FrozenCorrections(planted_fit.base_estimator_, evil).fit(X_new)
    assert isinstance(info.value.__cause__, ExpressionError)
    unknown = json.loads(json.dumps(data))
    unknown["corrections"][0] = {"expression": "zz * 2", "coefficient": 1.0}
    with pytest.raises(CorrectionsFormatError, match="not among the feature names"):
        FrozenCorrections(planted_fit.base_estimator_, unknown).fit(X_new)
    frozen = FrozenCorrections(planted_fit.base_estimator_, data)
    with pytest.raises(ValueError, match="lacks the column"):
        frozen.predict(pd.DataFrame({"x1": [1.0]}))


_FRESH = textwrap.dedent(
    """
    import pickle, sys
    import numpy as np
    import pandas as pd
    from tabsift.residual import FrozenCorrections
    folder = sys.argv[1]
    X = pd.read_pickle(folder + "/X.pkl")
    for name in ("reg", "clf"):
        with open(f"{folder}/{name}_base.pkl", "rb") as f:
            base = pickle.load(f)
        frozen = FrozenCorrections(base, f"{folder}/{name}.json")
        out = frozen.predict(X) if name == "reg" else frozen.predict_proba(X)
        np.save(f"{folder}/{name}_out.npy", out)
    """
)


def test_export_reload_in_a_fresh_process_gives_identical_predictions(planted_fit, tmp_path):
    X_new, _ = _planted(300, 12)
    Xc, yc = _classes(600, 13, 3)
    clf = ResidualAgentClassifier(
        LogisticRegression(), n_rounds=1, cv=3, n_jobs=1, random_state=0
    ).fit(Xc, yc)
    assert clf.corrections_
    for name, model in (("reg", planted_fit), ("clf", clf)):
        model.export_corrections(tmp_path / f"{name}.json")
        (tmp_path / f"{name}_base.pkl").write_bytes(pickle.dumps(model.base_estimator_))
    X_new.to_pickle(tmp_path / "X.pkl")
    subprocess.run([sys.executable, "-c", _FRESH, str(tmp_path)], check=True, timeout=120)
    np.testing.assert_array_equal(np.load(tmp_path / "reg_out.npy"), planted_fit.predict(X_new))
    np.testing.assert_array_equal(np.load(tmp_path / "clf_out.npy"), clf.predict_proba(X_new))
    # Nothing is refit: no LLM, same formulas; the JSON names the formulas and their trees.
    saved = json.loads((tmp_path / "reg.json").read_text())
    assert [c["expression"] for c in saved["corrections"]] == [
        c.expression for c in planted_fit.corrections_
    ]
    assert saved["corrections"][0]["tree"]["format"] == "tabsift.expr"
