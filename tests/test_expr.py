"""Tests of tabsift.expr: parsing, printing, errors and vectorised evaluation."""

import json
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tabsift
from tabsift.expr import (
    BinaryOp,
    Call,
    Column,
    Compare,
    Constant,
    Expression,
    ExpressionError,
    NonFiniteResultError,
    Number,
    UnaryOp,
    evaluate,
    parse,
)

x, y, z = Column("x"), Column("y"), Column("z")


def N(v):
    return Number(float(v))


# ---------------------------------------------------------------------------------------------
# Namespaces: every test marked with the ``xp_name`` fixture runs on each installed backend.


@pytest.fixture(params=["numpy", "array_api_strict", "cupy"])
def xp_name(request):
    name = request.param
    if name == "array_api_strict":
        pytest.importorskip("array_api_strict", reason="array_api_strict is not installed")
    if name == "cupy":
        cupy = pytest.importorskip("cupy", reason="cupy is not installed (no GPU backend here)")
        try:
            if cupy.cuda.runtime.getDeviceCount() == 0:  # pragma: no cover
                pytest.skip("cupy is installed but sees no CUDA device")
        except Exception as err:  # pragma: no cover
            pytest.skip(f"cupy is installed but CUDA is not usable: {err}")
    return name


def _namespace(name):
    from tabsift.backend import namespace_by_name

    return namespace_by_name(name)


def _to_numpy(a):
    from tabsift.backend import to_numpy

    return np.asarray(to_numpy(a))


def _data(xp_name, columns):
    xp = _namespace(xp_name)
    return {k: xp.asarray(np.asarray(v)) for k, v in columns.items()}


# ---------------------------------------------------------------------------------------------
# Parsing: structure and precedence


@pytest.mark.parametrize(
    "text, tree",
    [
        ("1 + 2 * 3", BinaryOp("+", N(1), BinaryOp("*", N(2), N(3)))),
        ("(1 + 2) * 3", BinaryOp("*", BinaryOp("+", N(1), N(2)), N(3))),
        ("x - y - z", BinaryOp("-", BinaryOp("-", x, y), z)),
        ("x / y / z", BinaryOp("/", BinaryOp("/", x, y), z)),
        ("x ** y ** z", BinaryOp("**", x, BinaryOp("**", y, z))),
        ("-x ** 2", UnaryOp("-", BinaryOp("**", x, N(2)))),
        ("(-x) ** 2", BinaryOp("**", UnaryOp("-", x), N(2))),
        ("2 ** -x", BinaryOp("**", N(2), UnaryOp("-", x))),
        ("x * -y", BinaryOp("*", x, UnaryOp("-", y))),
        ("--x", UnaryOp("-", UnaryOp("-", x))),
        ("+x", x),
        ("x > 1 & y < 2", BinaryOp("&", Compare(">", x, N(1)), Compare("<", y, N(2)))),
        (
            "x > 1 | y < 2 & z == 3",
            BinaryOp(
                "|",
                Compare(">", x, N(1)),
                BinaryOp("&", Compare("<", y, N(2)), Compare("==", z, N(3))),
            ),
        ),
        ("~x > 1", UnaryOp("~", Compare(">", x, N(1)))),
        ("~~(x != 1)", UnaryOp("~", UnaryOp("~", Compare("!=", x, N(1))))),
        ("x + 1 >= y * 2", Compare(">=", BinaryOp("+", x, N(1)), BinaryOp("*", y, N(2)))),
        ("clip(x, 0, 1)", Call("clip", (x, N(0), N(1)))),
        (
            "where(x <= 0, pi, e)",
            Call("where", (Compare("<=", x, N(0)), Constant("pi"), Constant("e"))),
        ),
        ("`blood pressure` * 2", BinaryOp("*", Column("blood pressure"), N(2))),
        ("`e` + e", BinaryOp("+", Column("e"), Constant("e"))),
        ("`exp` * exp(x)", BinaryOp("*", Column("exp"), Call("exp", (x,)))),
        ("größe * 2", BinaryOp("*", Column("größe"), N(2))),
    ],
)
def test_parse_structure_and_precedence(text, tree):
    assert parse(text).root == tree


@pytest.mark.parametrize(
    "text, value",
    [("3", 3.0), ("0.5", 0.5), (".5", 0.5), ("2.", 2.0), ("1e-3", 1e-3), ("2.5E+4", 2.5e4)],
)
def test_numbers_including_scientific_notation(text, value):
    assert parse(text).root == Number(value)


def test_columns_in_first_appearance_order_without_duplicates():
    e = parse("b * a + log(`c d`) - b / a")
    assert e.columns == ("b", "a", "c d")
    assert e.text == "b * a + log(`c d`) - b / a"


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("x>1&y<2", "(x > 1) & (y < 2)"),
        ("x ** (y ** z)", "x ** y ** z"),
        ("(x ** y) ** z", "(x ** y) ** z"),
        ("x - (y - z)", "x - (y - z)"),
        ("(x - y) - z", "x - y - z"),
        ("-(-x)", "-(-x)"),
        ("- -x", "-(-x)"),
        ("~x>1", "~(x > 1)"),
        ("(x > 1) | (y > 1) & (z > 1)", "(x > 1) | ((y > 1) & (z > 1))"),
        ("((x > 1) | (y > 1)) & (z > 1)", "((x > 1) | (y > 1)) & (z > 1)"),
        ("1e-08*x", "1e-08 * x"),
        ("1e20 + 2.50", "1e+20 + 2.5"),
        ("clip( x,0 ,1 )", "clip(x, 0, 1)"),
        ("`blood pressure`+`x`", "`blood pressure` + x"),
        ("`lambda` + `a-b` + `pi`", "`lambda` + `a-b` + `pi`"),
        ("(-2) ** x", "(-2) ** x"),
    ],
)
def test_canonical_string_is_pinned_and_round_trips(text, canonical):
    e = parse(text)
    assert str(e) == canonical
    assert parse(canonical).root == e.root
    assert repr(e) == f"Expression({canonical!r})"


# ---------------------------------------------------------------------------------------------
# Errors: position, caret and advice


@pytest.mark.parametrize(
    "text, position, fragment",
    [
        ("x.__class__", 1, "attribute access"),
        ("().__class__", 2, "attribute access"),
        ("x[0]", 1, "square brackets"),
        ("[v for v in x]", 0, "square brackets"),
        ("lambda: x", 0, "keyword 'lambda'"),
        ("'os'", 0, "string literals"),
        ('"os"', 0, "string literals"),
        ("open(x)", 0, "unknown function 'open'"),
        ("exec(x)", 0, "unknown function 'exec'"),
        ("__import__", 0, "dunder"),
        ("x.__dict__", 1, "attribute access"),
        ("x; y", 1, "single expression"),
        ("x ^ 2", 2, "'**'"),
        ("clip(x, 0)", 0, "clip takes 3 arguments"),
        ("minimum(x)", 0, "minimum takes 2 arguments"),
        ("maximum(x, y, z)", 0, "maximum takes 2 arguments"),
        ("where(x > 0, 1)", 0, "where takes 3 arguments"),
        ("log(x, 2)", 0, "log takes 1 argument"),
        ("exp()", 0, "exp takes 1 argument"),
        ("clip(x, lower=0, upper=1)", 8, "keyword arguments"),
        ("lgo(x)", 0, "unknown function 'lgo'"),
        ("x if y else z", 2, "where(condition, a, b)"),
        ("x and y", 2, "'&'"),
        ("not x", 0, "'~'"),
        ("x = 1", 2, "'=='"),
        ("x < y < z", 6, "chained"),
        ("x + (y > 1)", 4, "needs numbers"),
        ("x & (y > 1)", 0, "combines conditions"),
        ("~x", 0, "negates a condition"),
        ("-(x > 1)", 0, "negates a number"),
        ("x + ~(y > 1)", 4, "'~'"),
        ("where(x, 1, 0)", 6, "must be a condition"),
        ("log(x > 1)", 4, "must be a number"),
        ("(x > 1) == (y > 1)", 0, "compares numbers"),
        ("2x", 1, "2 * x"),
        ("1e", 1, "exponent"),
        ("1e999", 0, "too large"),
        ("0x1F", 1, "hexadecimal"),
        ("1_000", 1, "underscores"),
        ("(x + 1", 6, "missing ')'"),
        ("x + 1)", 5, "unmatched ')'"),
        ("x +", 3, "ends where an operand was expected"),
        ("x * * y", 4, "expected an operand"),
        ("", 0, "empty"),
        ("x y", 2, "`x y`"),
        ("x (y)", 0, "multiply explicitly"),
        ("(x)(y)", 3, "implicit multiplication"),
        ("x(1)", 0, "If 'x' is a column, multiply explicitly"),
        ("pi(1)", 0, "constant"),
        ("exp + 1", 0, "must be called"),
        ("x, y", 1, "','"),
        ("x // 2", 2, "floor division"),
        ("x % 2", 2, "modulo"),
        ("x @ y", 2, "matrix"),
        ("x # comment", 2, "comments"),
        ("x && y", 2, "single '&'"),
        ("x => y", 2, "'>='"),
        ("`unterminated", 0, "unterminated backtick"),
        ("`a\nb`", 0, "unterminated backtick"),
        ("``", 0, "empty"),
        ("`__class__`", 0, "dunder"),
        ("x ? y", 2, "unexpected character"),
        ("True", 0, "True/False"),
        ("None", 0, "impute"),
        ("x²", 0, "not a valid name"),
    ],
)
def test_rejected_input_reports_position_and_fix(text, position, fragment):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.text == text
    assert err.position == position, str(err)
    message = str(err)
    assert fragment in message
    assert "Fix: " in message
    # The caret line sits under the reported character.
    if "\n" not in text:
        lines = message.splitlines()
        caret = next(line for line in lines if line.strip() == "^")
        assert caret.index("^") - 4 == position


def test_error_message_is_pinned():
    with pytest.raises(ExpressionError) as info:
        parse("log(agee) + 1", columns=["age", "income", "blood pressure"])
    assert str(info.value) == (
        "unknown column 'agee'; did you mean age? (at position 4)\n"
        "    log(agee) + 1\n"
        "        ^\n"
        "Fix: use one of the available columns: age, income, `blood pressure`. Names with "
        "spaces or symbols go in backticks, e.g. `blood pressure`."
    )


def test_unknown_column_suggests_backticks_for_a_name_with_spaces():
    with pytest.raises(ExpressionError) as info:
        parse("blood pressure * 2", columns=["age", "blood pressure"])
    assert info.value.position == 0
    assert "did you mean `blood pressure`?" in str(info.value)


def test_columns_given_accepts_known_names_and_lists_many_columns_briefly():
    cols = [f"c{i}" for i in range(50)]
    assert parse("c1 + c49", columns=cols).columns == ("c1", "c49")
    with pytest.raises(ExpressionError) as info:
        parse("d1", columns=cols)
    assert "(30 more)" in str(info.value)


def test_function_name_that_is_also_a_column_hints_at_backticks():
    with pytest.raises(ExpressionError, match="backticks: `exp`"):
        parse("exp * 2", columns=["exp"])
    assert parse("`exp` * 2", columns=["exp"]).columns == ("exp",)


def test_multiline_errors_name_line_and_column():
    with pytest.raises(ExpressionError) as info:
        parse("x +\n  y ^ 2")
    assert info.value.position == 8
    assert "line 2, column 4" in str(info.value)


def test_long_line_is_shortened_around_the_caret():
    text = "x + " * 30 + "y ^ 2" + " + x" * 30
    with pytest.raises(ExpressionError) as info:
        parse(text)
    lines = str(info.value).splitlines()
    assert lines[1].startswith("    ...") and lines[1].endswith("...")
    assert lines[1][lines[2].index("^")] == "^"


def test_max_length():
    parse("x + 1", max_length=5)
    with pytest.raises(ExpressionError, match="max_length=5") as info:
        parse("x + 10", max_length=5)
    assert info.value.position == 5
    with pytest.raises(ValueError, match="max_length"):
        parse("x", max_length=0)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 100_000,
        "(" * 100_000 + "x" + ")" * 100_000,
        "-" * 100_000 + "x",
        "~" * 100_000 + "(x > 1)",
        "exp(" * 50_000 + "x" + ")" * 50_000,
        "x" + " ** x" * 50_000,
        "x" + " + x" * 50_000,
        "[" * 100_000,
    ],
)
def test_deep_nesting_is_an_expression_error_not_a_recursion_error(text):
    with pytest.raises(ExpressionError) as info:
        parse(text, max_length=None)
    assert not isinstance(info.value, RecursionError)
    with pytest.raises(ExpressionError):
        parse(text)  # the default max_length rejects it first


def test_max_depth_counts_parentheses_calls_and_operator_chains():
    parse("(" * 64 + "x" + ")" * 64)
    with pytest.raises(ExpressionError, match="max_depth=64"):
        parse("(" * 65 + "x" + ")" * 65)
    parse("-" * 63 + "x")  # a tree of height 64
    with pytest.raises(ExpressionError, match="max_depth=64"):
        parse("-" * 64 + "x")
    parse("x" + " + x" * 63)  # a tree of height 64
    with pytest.raises(ExpressionError, match="max_depth=64"):
        parse("x" + " + x" * 64)
    with pytest.raises(ExpressionError, match="max_depth=3"):
        parse("exp(exp(exp(x)))", max_depth=3)
    for bad in (0, 101, 2.5, True):
        with pytest.raises(ValueError, match="max_depth"):
            parse("x", max_depth=bad)


@pytest.mark.parametrize(
    "text",
    [
        "sigmoid(" * 99 + "x" + ")" * 99,
        "-(" * 99 + "x" + ")" * 99,
        "~(" * 98 + "x > 0" + ")" * 98,
        "(" * 100 + "x" + " ** x" * 99 + ")" * 100,
    ],
)
def test_deepest_allowed_formula_prints_compares_and_evaluates(text):
    # max_depth is capped so every recursive walk stays far from Python's stack limit.
    e = parse(text, max_depth=100, max_length=None)
    assert parse(str(e), max_depth=100) == e
    assert Expression.from_dict(json.loads(json.dumps(e.to_dict()))) == e
    out = e.evaluate({"x": np.array([-1e6, 0.5])}, check_finite=False)
    assert out.shape == (2,)


def test_canonical_text_stays_within_the_limits_of_the_original():
    # "-(-(...))" and "~(...)" print with extra parentheses, yet must parse back by default.
    for text in ("-" * 63 + "x", "~" * 62 + "(x > 1)", "x > 1 & y < 2 | " * 20 + "z > 0"):
        e = parse(text)
        assert parse(str(e)) == e


def test_text_must_be_a_string():
    with pytest.raises(TypeError, match="must be a str"):
        parse(b"x + 1")


def test_no_eval_exec_or_compile_in_the_expression_package():
    pattern = re.compile(
        r"(?<![\w.])(eval|exec|compile|__import__)\s*\(|^\s*(import|from)\s+ast\b", re.M
    )
    folder = Path(tabsift.__file__).parent / "expr"
    for path in folder.glob("*.py"):
        source = path.read_text()
        assert not pattern.search(source), f"{path.name} must not use eval/exec/compile/ast"


# ---------------------------------------------------------------------------------------------
# The tree, Expression objects and serialisation


def test_nodes_are_frozen_and_validated():
    with pytest.raises(AttributeError):
        x.name = "y"
    with pytest.raises(ExpressionError, match=">= 0"):
        Number(-1.0)
    with pytest.raises(ExpressionError, match="finite"):
        Number(float("nan"))
    with pytest.raises(ExpressionError, match="backtick"):
        Column("a`b")
    with pytest.raises(ExpressionError, match="unknown constant"):
        Constant("tau")
    with pytest.raises(ExpressionError, match="unknown unary"):
        UnaryOp("!", x)
    with pytest.raises(ExpressionError, match="unknown binary"):
        BinaryOp("^", x, y)
    with pytest.raises(ExpressionError, match="unknown comparison"):
        Compare("=", x, y)
    with pytest.raises(ExpressionError, match="clip takes 3"):
        Call("clip", (x,))
    with pytest.raises(ExpressionError, match="unknown function"):
        Call("eval", (x,))
    with pytest.raises(ExpressionError, match="node"):
        BinaryOp("+", x, 1.0)
    assert Call("exp", [x]).args == (x,)
    assert Number(2) == Number(2.0) and hash(Number(2)) == hash(Number(2.0))
    assert str(Number(-0.0)) == "0" and np.copysign(1.0, Number(-0.0).value) == 1.0
    with pytest.raises(TypeError, match="sequence of column names"):
        parse("x", columns="x")


def test_expression_from_a_tree_is_checked_like_text():
    e = Expression(BinaryOp("+", Call("log", (x,)), N(1)))
    assert str(e) == e.text == "log(x) + 1"
    assert e == parse("log(x)+1") and hash(e) == hash(parse("log(x) + 1"))
    assert e.columns == ("x",)
    with pytest.raises(ExpressionError, match="negates a condition"):
        Expression(UnaryOp("~", x))
    with pytest.raises(ExpressionError, match="must be a condition"):
        Expression(Call("where", (x, N(1), N(0))))
    with pytest.raises(TypeError):
        Expression("x + 1")
    deep = x
    for _ in range(150):
        deep = UnaryOp("-", deep)
    with pytest.raises(ExpressionError, match="levels deep"):
        Expression(deep)


def test_to_dict_is_json_and_round_trips():
    e = parse("where(`a b` > 1 & ~(c == 2), log1p(`a b`) ** -2, pi)")
    data = e.to_dict()
    restored = Expression.from_dict(json.loads(json.dumps(data)))
    assert restored == e
    assert restored.columns == e.columns == ("a b", "c")
    assert data["text"] == str(e)
    assert data["format"] == "tabsift.expr" and data["version"] == 1
    assert Expression.from_dict({"format": "tabsift.expr", "version": 1, "text": "c+1"}) == parse(
        "c + 1"
    )


def test_from_dict_rejects_tampered_or_foreign_data():
    good = parse("log(x) + 1").to_dict()
    with pytest.raises(ExpressionError, match="does not match"):
        Expression.from_dict({**good, "text": "log(x) + 2"})
    evil = json.loads(json.dumps(good))
    evil["root"]["left"]["func"] = "__import__"
    with pytest.raises(ExpressionError, match="unknown function"):
        Expression.from_dict(evil)
    with pytest.raises(ExpressionError, match="format"):
        Expression.from_dict({"format": "pickle", "version": 1, "text": "x"})
    with pytest.raises(ExpressionError, match="node dict"):
        Expression.from_dict({"format": "tabsift.expr", "version": 1, "root": {"type": "Lambda"}})
    with pytest.raises(ExpressionError, match="unknown column"):
        Expression.from_dict(good, columns=["y"])
    deep = {"type": "Column", "name": "x"}
    for _ in range(10_000):
        deep = {"type": "UnaryOp", "op": "-", "operand": deep}
    with pytest.raises(ExpressionError, match="levels deep"):
        Expression.from_dict({"format": "tabsift.expr", "version": 1, "root": deep})


def test_expressions_and_errors_pickle():
    e = parse("sigmoid(`a b`) > 0.5")
    assert pickle.loads(pickle.dumps(e)) == e
    with pytest.raises(ExpressionError) as info:
        parse("x ^ 2")
    clone = pickle.loads(pickle.dumps(info.value))
    assert str(clone) == str(info.value) and clone.position == 2


# ---------------------------------------------------------------------------------------------
# Evaluation


_REFERENCE = {
    "exp(a)": lambda a, b, c: np.exp(a),
    "log(c)": lambda a, b, c: np.log(c),
    "log1p(c)": lambda a, b, c: np.log1p(c),
    "sqrt(c)": lambda a, b, c: np.sqrt(c),
    "abs(a)": lambda a, b, c: np.abs(a),
    "sigmoid(a)": lambda a, b, c: 1 / (1 + np.exp(-a)),
    "tanh(a)": lambda a, b, c: np.tanh(a),
    "sign(a)": lambda a, b, c: np.sign(a),
    "clip(a, -0.5, b)": lambda a, b, c: np.minimum(np.maximum(a, -0.5), b),
    "minimum(a, b)": lambda a, b, c: np.minimum(a, b),
    "maximum(a, b)": lambda a, b, c: np.maximum(a, b),
    "where(a > 0, b, c)": lambda a, b, c: np.where(a > 0, b, c),
    "-a ** 2 + 2 ** -b": lambda a, b, c: -(a**2) + 2.0**-b,
    "a / c * pi - e": lambda a, b, c: a / c * np.pi - np.e,
    "1.5e-1 * (a + b) - c": lambda a, b, c: 0.15 * (a + b) - c,
}


@pytest.mark.parametrize("formula", list(_REFERENCE))
def test_evaluate_matches_numpy_on_every_namespace(xp_name, formula):
    rng = np.random.default_rng(0)
    cols = {"a": rng.normal(size=20), "b": rng.normal(size=20), "c": rng.uniform(0.1, 3, 20)}
    out = evaluate(formula, _data(xp_name, cols))
    import array_api_compat

    assert array_api_compat.array_namespace(out) is array_api_compat.array_namespace(
        _data(xp_name, cols)["a"]
    )
    assert out.shape == (20,)
    np.testing.assert_allclose(_to_numpy(out), _REFERENCE[formula](**cols), rtol=1e-12)


@pytest.mark.parametrize(
    "formula, expected",
    [
        ("a > 0", [False, True, True]),
        ("(a >= 1) & (b != 2)", [False, True, False]),
        ("(a < 1) | ~(b == 2)", [True, True, False]),
        ("a == b", [False, False, True]),
    ],
)
def test_conditions_evaluate_to_bool(xp_name, formula, expected):
    xp = _namespace(xp_name)
    out = evaluate(formula, _data(xp_name, {"a": [0.0, 1.0, 2.0], "b": [1.0, 3.0, 2.0]}))
    assert xp.isdtype(out.dtype, "bool")
    assert _to_numpy(out).tolist() == expected


def test_scalars_broadcast_to_the_row_count(xp_name):
    xp = _namespace(xp_name)
    data = _data(xp_name, {"a": [1.0, 2.0, 3.0]})
    np.testing.assert_allclose(_to_numpy(evaluate("2 * pi", data)), [2 * np.pi] * 3)
    assert _to_numpy(evaluate("1 < 2", data)).tolist() == [True] * 3
    assert evaluate("e", data).shape == (3,)
    assert xp.isdtype(evaluate("3", data).dtype, "real floating")


def test_integer_and_bool_columns_become_float_and_float32_is_kept(xp_name):
    xp = _namespace(xp_name)
    data = {
        "i": xp.asarray([1, 2, 3], dtype=xp.int64),
        "b": xp.asarray([True, False, True]),
        "f": xp.asarray([0.5, 1.0, 1.5], dtype=xp.float32),
    }
    out = evaluate("i / 2 + b", data)
    assert out.dtype == xp.float64
    np.testing.assert_allclose(_to_numpy(out), [1.5, 1.0, 2.5])
    assert evaluate("f * 2 + 1", data).dtype == xp.float32
    assert evaluate("exp(f)", data).dtype == xp.float32


def test_sigmoid_is_numerically_stable(xp_name):
    data = _data(xp_name, {"a": [-1000.0, -40.0, 0.0, 40.0, 1000.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = _to_numpy(evaluate("sigmoid(a)", data))
    assert np.isfinite(out).all()
    assert out[0] == 0.0 and out[-1] == 1.0 and out[2] == 0.5
    np.testing.assert_allclose(out[1], np.exp(-40.0) / (1 + np.exp(-40.0)), rtol=1e-12)


def test_result_never_aliases_the_input():
    a = np.array([1.0, 2.0])
    out = evaluate("a", {"a": a})
    out[0] = 99.0
    assert a[0] == 1.0


def test_dataframe_input_with_spaces_and_nullable_dtypes():
    df = pd.DataFrame(
        {
            "blood pressure": [120, 140, 160],
            "age": pd.array([30, None, 50], dtype="Int64"),
            "ok": [True, False, True],
        }
    )
    np.testing.assert_allclose(evaluate("`blood pressure` / 2 + ok", df), [61.0, 70.0, 81.0])
    out = evaluate("age + 1", df, check_finite=False)
    np.testing.assert_allclose(out, [31.0, np.nan, 51.0])
    with pytest.raises(NonFiniteResultError, match="column 'age' contains NaN on 1 row"):
        evaluate("age + 1", df)
    with pytest.raises(ValueError, match="feature_names is only used"):
        evaluate("age", df, feature_names=["a", "b", "c"])


def test_dataframe_non_numeric_and_duplicate_columns_are_clear_errors():
    df = pd.DataFrame({"city": ["a", "b"], "n": [1.0, 2.0]})
    with pytest.raises(ExpressionError, match="column 'city' has dtype .* numeric columns") as info:
        evaluate("n + city", df)
    assert info.value.position == 4
    dup = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])
    with pytest.raises(ExpressionError, match="2 columns named 'a'"):
        evaluate("a + 1", dup)


def test_two_d_array_with_feature_names_and_default_names(xp_name):
    xp = _namespace(xp_name)
    X = xp.asarray(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    np.testing.assert_allclose(_to_numpy(evaluate("x0 * x2 - x1", X)), [1.0, 19.0])
    out = evaluate("`c` - a", X, feature_names=["a", "b", "c"])
    np.testing.assert_allclose(_to_numpy(out), [2.0, 2.0])
    with pytest.raises(ValueError, match="feature_names has 2 names"):
        evaluate("a", X, feature_names=["a", "b"])


def test_mapping_of_lists_and_data_shape_errors():
    np.testing.assert_allclose(evaluate("a + b", {"a": [1, 2], "b": [3.0, 4.0]}), [4.0, 6.0])
    with pytest.raises(ExpressionError, match="'b' has 3 rows but the other columns have 2"):
        evaluate("a + b", {"a": [1.0, 2.0], "b": [1.0, 2.0, 3.0]})
    with pytest.raises(ExpressionError, match="must be 1-D"):
        evaluate("a + 1", {"a": np.ones((2, 2))})
    with pytest.raises(ValueError, match="shape"):
        evaluate("a", np.ones(3))
    with pytest.raises(ValueError, match="Series"):
        evaluate("a", pd.Series([1.0]))
    with pytest.raises(ValueError, match="no columns"):
        evaluate("1 + 1", {})


def test_unknown_column_at_evaluation_points_into_the_formula():
    with pytest.raises(ExpressionError) as info:
        evaluate("log1p(incme) * 2", {"income": np.ones(2), "age": np.ones(2)})
    err = info.value
    assert err.position == 6
    assert "did you mean income?" in str(err)
    assert "available columns: income, age" in str(err)


def test_explicit_xp_and_configured_backend_are_honoured():
    xps = pytest.importorskip("array_api_strict")
    X = np.array([[1.0, 2.0]])
    out = evaluate("x0 + x1", X, xp=xps)
    assert type(out).__module__.startswith("array_api_strict")
    with tabsift.config_context(array_backend="array_api_strict"):
        out = evaluate("x0 + x1", X)
    assert type(out).__module__.startswith("array_api_strict")
    assert float(out[0]) == 3.0


def test_evaluation_follows_tabsift_backend_config():
    pytest.importorskip("array_api_strict")
    import tabsift
    from tabsift.backend import get_namespace, namespace_name

    with tabsift.config_context(array_backend="array_api_strict"):
        result = evaluate("x * 2", {"x": np.arange(3.0)})
    assert namespace_name(get_namespace(result)) == "array_api_strict"
    np.testing.assert_array_equal(np.from_dlpack(result), [0.0, 2.0, 4.0])


# ---------------------------------------------------------------------------------------------
# Non-finite results


def test_non_finite_result_message_names_the_innermost_cause():
    v = np.ones(12)
    v[[7, 9, 11]] = 0.0
    with pytest.raises(NonFiniteResultError) as info:
        evaluate("2 * log(x) + 1", {"x": v})
    err = info.value
    assert err.reason == (
        "log(x) produced -inf on 3 rows (first: row 7), which makes the result not finite there"
    )
    assert err.subexpression == "log(x)"
    assert (err.n_rows, err.first_row, err.position) == (3, 7, 4)
    assert "where(x > 0, log(x), 0)" in err.fix
    assert "check_finite=False" in err.fix
    assert isinstance(err, ExpressionError) and isinstance(err, ValueError)


def test_non_finite_counts_rows_of_the_result_from_several_causes():
    with pytest.raises(NonFiniteResultError) as info:
        evaluate("1 / a + sqrt(b)", {"a": np.array([0.0, 1.0, 1.0]), "b": [1.0, -1.0, 4.0]})
    err = info.value
    assert err.subexpression == "1 / a"
    assert "produced inf on 1 row (first: row 0)" in err.reason
    assert "in all, 2 rows of the result are not finite (first: row 0)" in err.reason
    assert err.n_rows == 2


def test_masked_non_finite_values_are_not_reported(xp_name):
    data = _data(xp_name, {"a": [0.0, -1.0, 2.0]})
    out = evaluate("where(a > 0, log(a), 0)", data)
    np.testing.assert_allclose(_to_numpy(out), [0.0, 0.0, np.log(2.0)])


def test_non_finite_on_every_namespace_and_no_floating_point_warnings(xp_name):
    data = _data(xp_name, {"a": [1.0, 0.0, -1.0], "b": [800.0, 1.0, 1.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NonFiniteResultError, match=r"sqrt\(a\) produced NaN on 1 row"):
            evaluate("sqrt(a) + 1", data)
        with pytest.raises(NonFiniteResultError, match=r"exp\(b\) produced inf on 1 row"):
            evaluate("exp(b) * 2", data)
        with pytest.raises(
            NonFiniteResultError, match=r"^a / a produced NaN on 1 row \(first: row 1\)"
        ):
            evaluate("a / a", data)
        out = _to_numpy(evaluate("log(a)", data, check_finite=False))
    assert out[0] == 0.0 and out[1] == -np.inf and np.isnan(out[2])


def test_nan_in_an_input_column_is_blamed_on_the_column():
    with pytest.raises(NonFiniteResultError) as info:
        evaluate("exp(a) + b", {"a": [1.0, 2.0], "b": [np.nan, 1.0]})
    assert info.value.subexpression == "b"
    assert info.value.position == 9
    assert "impute" in info.value.fix
