"""Safe formulas over table columns: parse, check, print and evaluate vectorised.

A formula such as ``log1p(income) / size`` is parsed by a small
hand-written parser (never by Python's ``eval``, ``exec``, ``compile`` or
``ast``) into a tree of frozen dataclasses, and evaluated on whole columns at
once in the array namespace of the data (NumPy, array_api_strict, CuPy).
:class:`FormulaTransformer` adds formulas as new columns in a scikit-learn
pipeline.

Grammar
-------
A formula is one expression built from:

- **numbers**: ``3``, ``0.5``, ``.5``, ``1e-3``, ``2.5E+4``;
- **columns**: a bare name such as ``age`` or ``x_1`` (letters, digits and
  ``_``), or any name between backticks, for names with spaces or symbols
  and for columns named like a constant, function or Python keyword::

      `blood pressure` * 2 + `e` - `2nd dose`

  A name cannot contain a backtick or a line break, nor start with ``__``;
- **constants**: ``pi`` and ``e``;
- **functions**: ``exp(x)``, ``log(x)``, ``log1p(x)``, ``sqrt(x)``,
  ``abs(x)``, ``sigmoid(x)`` (numerically stable), ``tanh(x)``,
  ``sin(x)``, ``cos(x)`` (radians), ``sign(x)``, ``clip(x, lower, upper)``, ``minimum(a, b)``,
  ``maximum(a, b)`` and ``where(condition, a, b)``;
- **operators**, from loosest to tightest binding:

  ==========  ====================================  ===============
  binding     operators                             operands
  ==========  ====================================  ===============
  1 loosest   ``a | b`` (or)                        conditions
  2           ``a & b`` (and)                       conditions
  3           ``~a`` (not)                          a condition
  4           ``< <= > >= == !=`` (not chainable)   numbers
  5           ``+ -``                               numbers
  6           ``* /``                               numbers
  7           unary ``-a`` (and ``+a``)             a number
  8 tightest  ``a ** b`` (right-associative)        numbers
  ==========  ====================================  ===============

  and parentheses ``( )`` group as usual.

Comparisons give *conditions* (booleans); ``&``, ``|`` and ``~`` combine
conditions, and ``where`` turns one into numbers. Unlike Python and pandas,
``&`` and ``|`` bind more loosely than comparisons, so
``x > 1 & y < 2`` means ``(x > 1) & (y < 2)``; the parenthesised spelling
works too and is how formulas are printed. As in Python, ``-x ** 2`` is
``-(x ** 2)`` and ``2 ** -x`` is allowed. ``^`` is rejected with a hint to
write ``**``.

Everything else is an :class:`ExpressionError` (a ``ValueError``) whose
``.position`` points at the problem and whose message shows it with a caret
and says how to fix it: attribute access, subscripts, strings, lambdas,
comprehensions, keyword arguments, unknown names (with close matches and
the available columns), unknown functions, wrong numbers of arguments,
numbers where conditions belong and vice versa, text longer than
``max_length`` (2000 characters), and parentheses nested, or a syntax tree
higher, than ``max_depth`` (64) levels. The limits are checked while parsing,
so no input can exhaust Python's stack. ``str(expression)`` gives canonical
text that parses back to the same tree.

Evaluation reports non-finite results instead of hiding them: with
``check_finite=True`` (the default) a NaN or infinite value in the result
raises :class:`NonFiniteResultError`, naming the innermost sub-expression
that produced it, the number of rows and the first row.

Examples
--------
>>> import numpy as np
>>> from tabsift.expr import evaluate, parse
>>> e = parse("where(`blood pressure` > 140, log(`blood pressure`), 0) + 2 ** -age")
>>> e.columns
('blood pressure', 'age')
>>> data = {"blood pressure": np.array([120.0, 150.0]), "age": np.array([1.0, 2.0])}
>>> e.evaluate(data)
array([0.5       , 5.26063529])
>>> evaluate("x ^ 2", data)
Traceback (most recent call last):
...
tabsift.expr._errors.ExpressionError: '^' is not an operator here (at position 2)
    x ^ 2
      ^
Fix: write powers with '**', e.g. x ** 2.
"""

import importlib

from tabsift.expr._errors import ExpressionError, NonFiniteResultError
from tabsift.expr._expression import Expression, evaluate, parse
from tabsift.expr._nodes import (
    BinaryOp,
    Call,
    Column,
    Compare,
    Constant,
    Node,
    Number,
    UnaryOp,
    check_column_name as check_column_name,
    to_source as to_source,
    walk as walk,
)

__all__ = [
    "BinaryOp",
    "Call",
    "Column",
    "Compare",
    "Constant",
    "Expression",
    "ExpressionError",
    "FormulaTransformer",
    "Node",
    "NonFiniteResultError",
    "Number",
    "UnaryOp",
    "evaluate",
    "parse",
]
# Also importable from here, for tabsift's packages only (not in __all__):
# walk, to_source and check_column_name over the syntax tree.


def __getattr__(name):
    # The transformer needs scikit-learn; import it only when it is asked for.
    if name == "FormulaTransformer":
        return importlib.import_module("tabsift.expr._transformer").FormulaTransformer
    raise AttributeError(f"module 'tabsift.expr' has no attribute {name!r}")


def __dir__():
    return __all__
