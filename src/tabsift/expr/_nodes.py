"""The syntax tree of a formula: small frozen dataclasses, printed back to canonical text."""

import keyword
import math
from dataclasses import dataclass

from tabsift.expr._errors import ExpressionError

# name -> argument names; the arity is the length.
FUNCTIONS = {
    "exp": ("x",),
    "log": ("x",),
    "log1p": ("x",),
    "sqrt": ("x",),
    "abs": ("x",),
    "sigmoid": ("x",),
    "tanh": ("x",),
    "sin": ("x",),
    "cos": ("x",),
    "sign": ("x",),
    "clip": ("x", "lower", "upper"),
    "minimum": ("a", "b"),
    "maximum": ("a", "b"),
    "where": ("condition", "a", "b"),
}

CONSTANTS = {"pi": math.pi, "e": math.e}

ARITHMETIC_OPS = ("+", "-", "*", "/", "**")
LOGICAL_OPS = ("&", "|")
COMPARE_OPS = ("<", "<=", ">", ">=", "==", "!=")
UNARY_OPS = ("-", "~")

# Binding strength, loosest first; see the table in the package docstring.
PREC_OR = 1
PREC_AND = 2
PREC_NOT = 3
PREC_COMPARE = 4
PREC_SUM = 5
PREC_PRODUCT = 6
PREC_UNARY = 7
PREC_POWER = 8
PREC_ATOM = 9

BINARY_PREC = {
    "|": PREC_OR,
    "&": PREC_AND,
    **dict.fromkeys(COMPARE_OPS, PREC_COMPARE),
    "+": PREC_SUM,
    "-": PREC_SUM,
    "*": PREC_PRODUCT,
    "/": PREC_PRODUCT,
    "**": PREC_POWER,
}

# Hard ceiling on ``max_depth``: tree walks are recursive, and Python's stack is not endless.
HARD_MAX_DEPTH = 100


def is_bare_name(name):
    """Whether ``name`` can be written without backticks (else it needs `` `name` ``).

    Examples
    --------
    >>> is_bare_name("age"), is_bare_name("blood pressure"), is_bare_name("exp")
    (True, False, False)
    """
    return (
        bool(name)
        and (name[0].isalpha() or name[0] == "_")
        and all(c.isalnum() or c == "_" for c in name)
        and name.isidentifier()
        and not name.startswith("__")
        and not keyword.iskeyword(name)
        and name not in FUNCTIONS
        and name not in CONSTANTS
    )


def column_source(name):
    """Return how column ``name`` is written in a formula.

    Examples
    --------
    >>> column_source("age"), column_source("blood pressure")
    ('age', '`blood pressure`')
    """
    return name if is_bare_name(name) else f"`{name}`"


def check_column_name(name):
    """Return a reason why ``name`` cannot be a column of a formula, or None."""
    if not isinstance(name, str):
        return f"column names must be strings, found {type(name).__name__} {name!r}"
    if not name.strip():
        return "a column name cannot be empty or blank"
    if "`" in name or "\n" in name or "\r" in name:
        return (
            f"column name {name!r} contains a backtick or a line break, which formulas cannot quote"
        )
    if name.startswith("__"):
        return f"names starting with '__' (dunder names) are not allowed, found {name!r}"
    return None


class Node:
    """Base class of the syntax tree nodes.

    ``str(node)`` gives canonical formula text that parses back to an equal tree.

    Examples
    --------
    >>> from tabsift.expr import BinaryOp, Column, Node, Number, parse
    >>> tree = BinaryOp("*", Column("x"), Number(2))
    >>> isinstance(tree, Node), str(tree)
    (True, 'x * 2')
    >>> parse(str(tree)).root == tree
    True
    """

    __slots__ = ()

    def __str__(self):
        return to_source(self)


def _invalid(message):
    return ExpressionError(message)


def _check_child(child, what):
    if not isinstance(child, Node):
        raise _invalid(f"{what} must be a syntax tree node, found {type(child).__name__}")


@dataclass(frozen=True, repr=True)
class Number(Node):
    """A non-negative finite number literal (``-2`` is ``UnaryOp("-", Number(2.0))``).

    Examples
    --------
    >>> from tabsift.expr import Number
    >>> str(Number(2.5)), str(Number(3)), str(Number(1e-8))
    ('2.5', '3', '1e-08')
    """

    value: float

    def __post_init__(self):
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise _invalid(f"Number.value must be a float, found {type(self.value).__name__}")
        value = float(self.value)
        if not math.isfinite(value) or value < 0:
            raise _invalid(
                f"Number.value must be finite and >= 0 (use UnaryOp('-', ...) for negative "
                f"numbers), found {value!r}"
            )
        # -0.0 prints as "0"; store +0.0 so that text and tree mean the same (1 / 0 is +inf).
        object.__setattr__(self, "value", value if value != 0 else 0.0)


@dataclass(frozen=True)
class Column(Node):
    """A reference to a column by name.

    Examples
    --------
    >>> from tabsift.expr import Column
    >>> str(Column("age")), str(Column("blood pressure"))
    ('age', '`blood pressure`')
    """

    name: str

    def __post_init__(self):
        problem = check_column_name(self.name)
        if problem:
            raise _invalid(problem)


@dataclass(frozen=True)
class Constant(Node):
    """A named constant: ``pi`` or ``e``.

    Examples
    --------
    >>> from tabsift.expr import Constant
    >>> str(Constant("pi"))
    'pi'
    """

    name: str

    def __post_init__(self):
        if self.name not in CONSTANTS:
            raise _invalid(f"unknown constant {self.name!r}; expected one of {sorted(CONSTANTS)}")


@dataclass(frozen=True)
class UnaryOp(Node):
    """Negation ``-x`` of a number or ``~c`` of a condition.

    Examples
    --------
    >>> from tabsift.expr import Column, UnaryOp
    >>> str(UnaryOp("-", Column("x")))
    '-x'
    """

    op: str
    operand: Node

    def __post_init__(self):
        if self.op not in UNARY_OPS:
            raise _invalid(f"unknown unary operator {self.op!r}; expected one of {UNARY_OPS}")
        _check_child(self.operand, "UnaryOp.operand")


@dataclass(frozen=True)
class BinaryOp(Node):
    """Arithmetic ``+ - * / **`` on numbers, or ``& |`` on conditions.

    Examples
    --------
    >>> from tabsift.expr import BinaryOp, Column, Number
    >>> str(BinaryOp("**", Column("x"), Number(2)))
    'x ** 2'
    """

    op: str
    left: Node
    right: Node

    def __post_init__(self):
        if self.op not in ARITHMETIC_OPS + LOGICAL_OPS:
            raise _invalid(
                f"unknown binary operator {self.op!r}; expected one of "
                f"{ARITHMETIC_OPS + LOGICAL_OPS}"
            )
        _check_child(self.left, "BinaryOp.left")
        _check_child(self.right, "BinaryOp.right")


@dataclass(frozen=True)
class Compare(Node):
    """A comparison of two numbers, giving a condition (boolean).

    Examples
    --------
    >>> from tabsift.expr import Column, Compare, Number
    >>> str(Compare(">=", Column("age"), Number(18)))
    'age >= 18'
    """

    op: str
    left: Node
    right: Node

    def __post_init__(self):
        if self.op not in COMPARE_OPS:
            raise _invalid(f"unknown comparison {self.op!r}; expected one of {COMPARE_OPS}")
        _check_child(self.left, "Compare.left")
        _check_child(self.right, "Compare.right")


@dataclass(frozen=True)
class Call(Node):
    """A call of one of the built-in functions.

    Examples
    --------
    >>> from tabsift.expr import Call, Column, Number
    >>> str(Call("clip", (Column("x"), Number(0), Number(1))))
    'clip(x, 0, 1)'
    """

    func: str
    args: tuple

    def __post_init__(self):
        if self.func not in FUNCTIONS:
            raise _invalid(f"unknown function {self.func!r}; expected one of {sorted(FUNCTIONS)}")
        args = tuple(self.args)
        expected = FUNCTIONS[self.func]
        if len(args) != len(expected):
            raise _invalid(
                f"{self.func} takes {len(expected)} argument(s) ({', '.join(expected)}), "
                f"found {len(args)}"
            )
        for arg in args:
            _check_child(arg, f"argument of {self.func}")
        object.__setattr__(self, "args", args)


def children(node):
    """Return the child nodes of ``node``, left to right."""
    if isinstance(node, UnaryOp):
        return (node.operand,)
    if isinstance(node, (BinaryOp, Compare)):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def tree_height(root):
    """Height of the tree (a leaf has height 1), computed without recursion."""
    height = 0
    stack = [(root, 1)]
    while stack:
        node, level = stack.pop()
        height = max(height, level)
        stack.extend((child, level + 1) for child in children(node))
    return height


def walk(root):
    """Yield ``(path, node)`` in pre-order (textual order); ``path`` is a tuple of child indices."""
    stack = [((), root)]
    while stack:
        path, node = stack.pop()
        yield path, node
        kids = children(node)
        for i in range(len(kids) - 1, -1, -1):
            stack.append(((*path, i), kids[i]))


def precedence(node):
    if isinstance(node, BinaryOp):
        return BINARY_PREC[node.op]
    if isinstance(node, Compare):
        return PREC_COMPARE
    if isinstance(node, UnaryOp):
        return PREC_UNARY if node.op == "-" else PREC_NOT
    return PREC_ATOM


def format_number(value):
    """Shortest text that reads back as exactly ``value``."""
    if value.is_integer() and value < 1e16:
        return str(int(value))
    return repr(value)


def _wrap(node, parens):
    text = to_source(node)
    return f"({text})" if parens else text


def to_source(node):
    """Canonical text of ``node``; ``parse(to_source(node)).root == node``.

    Parentheses are added where the grammar needs them, and also around
    comparisons inside ``&``/``|`` and around the operand of ``~``, where
    readers used to Python or pandas would otherwise stumble.
    """
    if isinstance(node, Number):
        return format_number(node.value)
    if isinstance(node, Column):
        return column_source(node.name)
    if isinstance(node, Constant):
        return node.name
    if isinstance(node, Call):
        return f"{node.func}({', '.join(to_source(arg) for arg in node.args)})"
    if isinstance(node, UnaryOp):
        inner = precedence(node.operand)
        if node.op == "-":
            # "-(-x)" rather than "--x": same tree, easier to read.
            parens = inner < PREC_UNARY or (
                isinstance(node.operand, UnaryOp) and node.operand.op == "-"
            )
            return "-" + _wrap(node.operand, parens)
        parens = inner != PREC_ATOM and not (
            isinstance(node.operand, UnaryOp) and node.operand.op == "~"
        )
        return "~" + _wrap(node.operand, parens)
    if isinstance(node, (BinaryOp, Compare)):
        prec = precedence(node)
        left_prec, right_prec = precedence(node.left), precedence(node.right)
        if node.op == "**":
            left_parens = left_prec < PREC_ATOM
            right_parens = right_prec < PREC_UNARY
        elif isinstance(node, Compare):
            left_parens = left_prec <= PREC_COMPARE
            right_parens = right_prec <= PREC_COMPARE
        elif node.op in LOGICAL_OPS:
            # Parenthesise every non-atomic operand except a chain of the same operator.
            left_parens = left_prec != PREC_ATOM and not (
                (isinstance(node.left, BinaryOp) and node.left.op == node.op)
                or (isinstance(node.left, UnaryOp) and node.left.op == "~")
            )
            right_parens = right_prec != PREC_ATOM and not (
                isinstance(node.right, UnaryOp) and node.right.op == "~"
            )
        else:
            left_parens = left_prec < prec
            right_parens = right_prec <= prec
        return f"{_wrap(node.left, left_parens)} {node.op} {_wrap(node.right, right_parens)}"
    raise TypeError(f"not a syntax tree node: {node!r}")


_NODE_TYPES = {
    cls.__name__: cls for cls in (Number, Column, Constant, UnaryOp, BinaryOp, Compare, Call)
}


def node_to_dict(node):
    """JSON-able nested dict of the tree (see :meth:`Expression.to_dict`)."""
    kind = type(node).__name__
    if isinstance(node, Number):
        return {"type": kind, "value": node.value}
    if isinstance(node, (Column, Constant)):
        return {"type": kind, "name": node.name}
    if isinstance(node, UnaryOp):
        return {"type": kind, "op": node.op, "operand": node_to_dict(node.operand)}
    if isinstance(node, (BinaryOp, Compare)):
        return {
            "type": kind,
            "op": node.op,
            "left": node_to_dict(node.left),
            "right": node_to_dict(node.right),
        }
    if isinstance(node, Call):
        return {"type": kind, "func": node.func, "args": [node_to_dict(a) for a in node.args]}
    raise TypeError(f"not a syntax tree node: {node!r}")


def node_from_dict(data, *, max_depth=HARD_MAX_DEPTH, _depth=1):
    """Rebuild a tree from :func:`node_to_dict` output, validating every field."""
    if _depth > max_depth:
        raise ExpressionError(
            f"the stored tree nests more than max_depth={max_depth} levels deep",
            fix="store a smaller formula.",
        )
    if not isinstance(data, dict) or data.get("type") not in _NODE_TYPES:
        raise ExpressionError(
            f"expected a node dict with 'type' in {sorted(_NODE_TYPES)}, found {data!r:.80}"
        )
    kind = data["type"]

    def field(name):
        if name not in data:
            raise ExpressionError(f"{kind} node dict lacks the field {name!r}: {data!r:.80}")
        return data[name]

    def sub(value):
        return node_from_dict(value, max_depth=max_depth, _depth=_depth + 1)

    if kind == "Number":
        return Number(field("value"))
    if kind in ("Column", "Constant"):
        return _NODE_TYPES[kind](field("name"))
    if kind == "UnaryOp":
        return UnaryOp(field("op"), sub(field("operand")))
    if kind in ("BinaryOp", "Compare"):
        return _NODE_TYPES[kind](field("op"), sub(field("left")), sub(field("right")))
    args = field("args")
    if not isinstance(args, list):
        raise ExpressionError(f"Call 'args' must be a list, found {type(args).__name__}")
    return Call(field("func"), tuple(sub(a) for a in args))
