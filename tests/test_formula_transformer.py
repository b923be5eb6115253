"""Tests of tabsift.expr.FormulaTransformer."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from tabsift.expr import Expression, ExpressionError, FormulaTransformer, NonFiniteResultError


# The default (identity) instance is what tests/test_common.py also runs; the others cover
# the formula paths. They use check_finite=False because the common checks feed NaN to an
# estimator whose allow_nan tag is True, and formulas then propagate it by design.
@parametrize_with_checks(
    [
        FormulaTransformer(),
        FormulaTransformer(["x0 * 2 + 1", "x0 > 0"], check_finite=False),
        FormulaTransformer(
            {"f": "where(x0 > 0, sqrt(x0), -x0)"}, keep_input=False, check_finite=False
        ),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "mass": rng.uniform(50, 100, 30),
            "height": rng.uniform(1.5, 2.0, 30),
            "blood pressure": rng.uniform(90, 180, 30),
        }
    )


def test_derived_columns_equal_the_numpy_computation(frame):
    ft = FormulaTransformer(
        {
            "bmi": "mass / height ** 2",
            "log_bp": "log(`blood pressure`)",
            "high": "`blood pressure` > 140 & mass > 80",
            "capped": "clip(mass, 60, 90) * sigmoid(height - 1.7)",
        }
    )
    out = ft.fit_transform(frame)
    m, h, bp = frame["mass"].to_numpy(), frame["height"].to_numpy(), frame["blood pressure"]
    bp = bp.to_numpy()
    assert out.shape == (30, 7)
    np.testing.assert_array_equal(out[:, :3], frame.to_numpy())
    np.testing.assert_allclose(out[:, 3], m / h**2)
    np.testing.assert_allclose(out[:, 4], np.log(bp))
    np.testing.assert_array_equal(out[:, 5], ((bp > 140) & (m > 80)).astype(float))
    np.testing.assert_allclose(out[:, 6], np.clip(m, 60, 90) / (1 + np.exp(-(h - 1.7))))
    assert list(ft.expressions_) == ["bmi", "log_bp", "high", "capped"]
    assert all(isinstance(e, Expression) for e in ft.expressions_.values())


def test_pandas_in_names_out(frame):
    ft = FormulaTransformer({"bmi": "mass / height ** 2"}).set_output(transform="pandas")
    out = ft.fit_transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["mass", "height", "blood pressure", "bmi"]
    assert list(ft.get_feature_names_out()) == ["mass", "height", "blood pressure", "bmi"]
    np.testing.assert_array_equal(ft.feature_names_in_, ["mass", "height", "blood pressure"])
    assert ft.n_features_in_ == 3


def test_list_formulas_are_named_by_their_canonical_text():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    ft = FormulaTransformer(["x0*x1", "log( x1 )"], keep_input=False).fit(X)
    assert list(ft.get_feature_names_out()) == ["x0 * x1", "log(x1)"]
    np.testing.assert_allclose(ft.transform(X), [[2.0, np.log(2.0)], [12.0, np.log(4.0)]])
    assert not hasattr(ft, "feature_names_in_")


def test_identity_by_default_and_feature_names_for_arrays():
    X = np.arange(6.0).reshape(3, 2)
    ft = FormulaTransformer().fit(X)
    out = ft.transform(X)
    np.testing.assert_array_equal(out, X)
    assert out is not X
    assert list(ft.get_feature_names_out()) == ["x0", "x1"]
    assert list(ft.get_feature_names_out(["a", "b"])) == ["a", "b"]
    assert FormulaTransformer(keep_input=False).fit_transform(X).shape == (3, 0)


def test_expression_objects_are_accepted(frame):
    e = Expression.from_dict({"format": "tabsift.expr", "version": 1, "text": "mass * 2"})
    out = FormulaTransformer({"double": e}, keep_input=False).fit_transform(frame)
    np.testing.assert_allclose(out[:, 0], frame["mass"] * 2)


def test_unknown_column_error_names_the_formula_key(frame):
    ft = FormulaTransformer({"bmi": "mass / heigth ** 2"})
    with pytest.raises(ExpressionError) as info:
        ft.fit(frame)
    message = str(info.value)
    assert message.startswith("formula 'bmi': unknown column 'heigth'; did you mean height?")
    assert info.value.position == 7
    assert "`blood pressure`" in message


def test_arrays_without_names_use_x0_names():
    with pytest.raises(ExpressionError, match="(?s)unknown column .mass.*x0, x1"):
        FormulaTransformer(["mass * 2"]).fit(np.ones((3, 2)))


def test_syntax_error_names_the_list_position():
    with pytest.raises(ExpressionError, match=r"formula 'formulas\[1\]': '\^' is not an operator"):
        FormulaTransformer(["x0 + 1", "x0 ^ 2"]).fit(np.ones((3, 1)))


def test_non_finite_values_are_reported_or_returned():
    X = np.array([[1.0], [0.0], [4.0]])
    with pytest.raises(NonFiniteResultError, match=r"formula 'lg': log\(x0\) produced -inf"):
        FormulaTransformer({"lg": "log(x0)"}).fit_transform(X)
    out = FormulaTransformer({"lg": "log(x0)"}, check_finite=False).fit_transform(X)
    assert out[1, 1] == -np.inf


def test_nan_passes_through_when_no_formula_uses_it():
    X = np.array([[1.0, np.nan], [2.0, 3.0]])
    out = FormulaTransformer({"d": "x0 * 2"}).fit_transform(X)
    assert np.isnan(out[0, 1])
    np.testing.assert_array_equal(out[:, 2], [2.0, 4.0])


@pytest.mark.parametrize(
    "formulas, match",
    [
        ({"x0": "x0 * 2"}, "name of an input column"),
        (["x0 + 1", "x0+1"], "given twice"),
        ({"": "x0"}, "non-empty str"),
        ({"a": 3}, "must be a str or an Expression"),
        ("x0 * 2", "formulas"),
    ],
)
def test_invalid_formulas_parameter(formulas, match):
    with pytest.raises((ValueError, TypeError), match=match):
        FormulaTransformer(formulas).fit(np.ones((2, 1)))


def test_column_names_must_match_between_fit_and_transform(frame):
    ft = FormulaTransformer({"bmi": "mass / height ** 2"}).fit(frame)
    with pytest.raises(ValueError, match="feature names"):
        ft.transform(frame.rename(columns={"mass": "weight"}))
    with pytest.raises(ValueError, match="input_features is not equal"):
        ft.get_feature_names_out(["a", "b", "c"])


def test_not_fitted_clone_pickle_and_pipeline(frame):
    ft = FormulaTransformer({"bmi": "mass / height ** 2"})
    with pytest.raises(NotFittedError):
        ft.transform(frame)
    fitted = pickle.loads(pickle.dumps(clone(ft).fit(frame)))
    np.testing.assert_allclose(fitted.transform(frame), ft.fit_transform(frame))
    y = frame["mass"] / frame["height"] ** 2
    model = make_pipeline(FormulaTransformer({"bmi": "mass / height ** 2"}), LinearRegression())
    model.fit(frame, y)
    assert model.score(frame, y) == pytest.approx(1.0)


def test_float32_is_preserved():
    X = np.ones((3, 2), dtype=np.float32)
    out = FormulaTransformer(["x0 + x1", "x0 > 0", "pi"]).fit_transform(X)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:, 2:], [[2.0, 1.0, np.pi]] * 3, rtol=1e-6)
