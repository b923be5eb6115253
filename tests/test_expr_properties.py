"""Property tests of tabsift.expr with hypothesis.

1. Random syntax trees print to text that parses back to the same tree, and
   evaluate to the values of an independent NumPy reference.
2. Random and adversarial text never raises anything but ExpressionError and
   never reaches Python's import, eval, exec, compile or open.
"""

import builtins
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from scipy.special import expit

from tabsift.expr import (
    BinaryOp,
    Call,
    Column,
    Compare,
    Constant,
    Expression,
    ExpressionError,
    Number,
    UnaryOp,
    evaluate,
    parse,
)

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Column names that need backticks, collide with functions, constants or keywords, or are Unicode.
NAMES = ["x", "y", "blood pressure", "e", "exp", "lambda", "größe", "_a1", "a-b", "2nd"]

_rng = np.random.default_rng(0)
DATA = {
    name: np.concatenate([[0.0, -1.0, 1.0, 1e-300, 750.0], _rng.normal(scale=3.0, size=11)])
    for name in NAMES
}

# ---------------------------------------------------------------------------------------------
# Strategies of syntax trees

numbers = st.one_of(
    st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 1e-8, 1e20, 123456789.0, 0.1]),
    st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False),
)
leaves = st.one_of(
    numbers.map(Number),
    st.sampled_from(NAMES).map(Column),
    st.sampled_from(["pi", "e"]).map(Constant),
)


def conditions(numeric):
    base = st.builds(Compare, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), numeric, numeric)
    return st.recursive(
        base,
        lambda c: st.one_of(
            st.builds(BinaryOp, st.sampled_from(["&", "|"]), c, c),
            st.builds(UnaryOp, st.just("~"), c),
        ),
        max_leaves=3,
    )


def _extend(numeric):
    unary_funcs = ["exp", "log", "log1p", "sqrt", "abs", "sigmoid", "tanh", "sign"]
    return st.one_of(
        st.builds(UnaryOp, st.just("-"), numeric),
        st.builds(BinaryOp, st.sampled_from(["+", "-", "*", "/", "**"]), numeric, numeric),
        st.builds(lambda f, a: Call(f, (a,)), st.sampled_from(unary_funcs), numeric),
        st.builds(lambda a, b, c: Call("clip", (a, b, c)), numeric, numeric, numeric),
        st.builds(
            lambda f, a, b: Call(f, (a, b)),
            st.sampled_from(["minimum", "maximum"]),
            numeric,
            numeric,
        ),
        st.builds(lambda c, a, b: Call("where", (c, a, b)), conditions(leaves), numeric, numeric),
    )


numeric_trees = st.recursive(leaves, _extend, max_leaves=10)
trees = st.one_of(numeric_trees, conditions(numeric_trees))


def reference(node):
    """An independent NumPy evaluation of a tree (scalars stay Python floats)."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Constant):
        return {"pi": np.pi, "e": np.e}[node.name]
    if isinstance(node, Column):
        return DATA[node.name]
    if isinstance(node, UnaryOp):
        value = reference(node.operand)
        return -value if node.op == "-" else np.logical_not(value)
    if isinstance(node, (BinaryOp, Compare)):
        a, b = reference(node.left), reference(node.right)
        ops = {
            "+": np.add,
            "-": np.subtract,
            "*": np.multiply,
            "/": np.divide,
            "**": np.power,
            "&": np.logical_and,
            "|": np.logical_or,
            "<": np.less,
            "<=": np.less_equal,
            ">": np.greater,
            ">=": np.greater_equal,
            "==": np.equal,
            "!=": np.not_equal,
        }
        return ops[node.op](np.float64(a) if isinstance(a, float) else a, b)
    args = [reference(a) for a in node.args]
    funcs = {
        "exp": np.exp,
        "log": np.log,
        "log1p": np.log1p,
        "sqrt": np.sqrt,
        "abs": np.abs,
        "sigmoid": expit,
        "tanh": np.tanh,
        "sign": np.sign,
        "clip": lambda v, lo, hi: np.minimum(np.maximum(v, lo), hi),
        "minimum": np.minimum,
        "maximum": np.maximum,
        "where": np.where,
    }
    return funcs[node.func](*args)


@SETTINGS
@given(trees)
def test_random_trees_round_trip_and_match_numpy(tree):
    text = str(tree)
    expression = parse(text, max_length=None)
    assert expression.root == tree
    assert Expression(tree) == expression
    assert parse(str(expression), max_length=None).root == tree
    assert set(expression.columns) <= set(NAMES)

    got = evaluate(expression, DATA, check_finite=False)
    with np.errstate(all="ignore"):
        want = np.broadcast_to(reference(tree), got.shape)
    assert got.shape == (len(DATA["x"]),)
    if want.dtype == bool:
        assert got.dtype == bool
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want.astype(float), rtol=1e-9, atol=1e-300, equal_nan=True)


# ---------------------------------------------------------------------------------------------
# Adversarial text

DANGEROUS = [
    "__import__",
    "__import__('os')",
    "().__class__",
    ".__class__.__bases__[0].__subclasses__()",
    "lambda",
    "lambda: 0",
    "[x for x in y]",
    "(x for x in y)",
    "{x: y}",
    "'os'",
    '"os"',
    "open(",
    "exec(",
    "eval(",
    "compile(",
    "getattr(",
    "globals()",
    "__builtins__",
    "import os",
    "os.system('true')",
    ";",
    "\n",
    "\t",
    "\\",
    "#",
    "(",
    ")",
    "(" * 70,
    ")" * 70,
    "x",
    "y",
    "e",
    "pi",
    "`blood pressure`",
    "`",
    "``",
    ".",
    ",",
    "=",
    "==",
    ":=",
    "+",
    "-",
    "*",
    "**",
    "/",
    "//",
    "^",
    "~",
    "&",
    "|",
    "<",
    ">=",
    "!=",
    "!",
    "1e5",
    "1e",
    ".5",
    "0x1F",
    "1_0",
    "3j",
    "where(",
    "clip(",
    "log(",
    "sigmoid(",
    " ",
    "\x00",
    "\u2028",
    "größe",
    "ﬁ",
    "x²",
    "True",
    "None",
    "if",
    "else",
    "for",
    "in",
]

adversarial = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(DANGEROUS), max_size=25).map("".join),
    st.lists(st.one_of(st.sampled_from(DANGEROUS), st.text(max_size=3)), max_size=25).map(" ".join),
    st.integers(min_value=0, max_value=3000).map(lambda k: "(" * k + "x" + ")" * k),
    st.integers(min_value=0, max_value=3000).map(lambda k: "-" * k + "x"),
    st.integers(min_value=0, max_value=1000).map(lambda k: "exp(" * k + "x"),
)


@contextmanager
def forbidden_builtins():
    """Record any call of import, eval, exec, compile or open made inside the block."""
    calls = []
    names = ["__import__", "eval", "exec", "compile", "open"]
    originals = {name: getattr(builtins, name) for name in names}

    def recorder(name):
        def record(*args, **kwargs):
            calls.append((name, args[:1]))
            return originals[name](*args, **kwargs)

        return record

    for name in names:
        setattr(builtins, name, recorder(name))
    try:
        yield calls
    finally:
        for name, original in originals.items():
            setattr(builtins, name, original)


def _parse_guarded(text, **kwargs):
    with forbidden_builtins() as calls:
        try:
            result = parse(text, **kwargs)
        except ExpressionError as err:
            result = err
    assert calls == [], f"parsing {text!r} called {calls}"
    return result


@SETTINGS
@given(adversarial)
def test_adversarial_text_only_raises_expression_error_and_runs_nothing(text):
    result = _parse_guarded(text)
    if isinstance(result, ExpressionError):
        assert result.text == text
        assert result.position is None or 0 <= result.position <= len(text)
        str(result)  # the message itself must render
        return
    # Accepted text is a real formula: it round-trips and evaluates or reports non-finite values.
    assert parse(str(result), max_length=None) == result
    data = {name: np.array([0.0, 1.0, -2.0]) for name in result.columns}
    try:
        out = result.evaluate(data or {"_": np.zeros(3)})
    except ExpressionError:
        return
    assert out.shape == (3,)


@SETTINGS
@given(adversarial, st.sampled_from([None, ("x", "y", "blood pressure")]))
def test_adversarial_text_with_known_columns(text, columns):
    result = _parse_guarded(text, columns=columns, max_length=500, max_depth=32)
    if isinstance(result, Expression) and columns is not None:
        assert set(result.columns) <= set(columns)


def test_the_guard_itself_notices_a_forbidden_call():
    with forbidden_builtins() as calls:
        __import__("math")
    assert calls == [("__import__", ("math",))]


@pytest.mark.parametrize("fragment", DANGEROUS)
def test_each_dangerous_fragment_alone_is_rejected_or_harmless(fragment):
    result = _parse_guarded(fragment)
    if isinstance(result, Expression):
        assert fragment.strip() in {
            "x",
            "y",
            "e",
            "pi",
            "`blood pressure`",
            "1e5",
            ".5",
            "größe",
            "ﬁ",
        }
