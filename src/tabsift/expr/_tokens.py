"""Tokenizer: formula text -> list of tokens, rejecting anything outside the language."""

import keyword
import math
import re
from typing import NamedTuple

from tabsift.expr._errors import ExpressionError
from tabsift.expr._nodes import check_column_name

_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

_TWO_CHAR_OPS = ("**", "<=", ">=", "==", "!=")
_ONE_CHAR_OPS = "+-*/<>&|~"

# Python keywords get a message saying what to write instead.
_KEYWORD_FIXES = {
    "and": "combine conditions with '&', e.g. (x > 0) & (y < 1).",
    "or": "combine conditions with '|', e.g. (x > 0) | (y < 1).",
    "not": "negate a condition with '~', e.g. ~(x > 0).",
    "if": "choose between values with where(condition, a, b), e.g. where(x > 0, x, 0).",
    "else": "choose between values with where(condition, a, b), e.g. where(x > 0, x, 0).",
    "lambda": "a formula is a single expression over columns; lambdas are not supported.",
    "for": "comprehensions and loops are not supported; write one formula per derived column.",
    "in": "membership tests are not supported; compare explicitly, e.g. (x == 1) | (x == 2).",
    "is": "compare values with '==' or '!='.",
    "True": "conditions come from comparisons, e.g. x > 0; there are no True/False literals.",
    "False": "conditions come from comparisons, e.g. x > 0; there are no True/False literals.",
    "None": "missing values are not literals; impute them before evaluating the formula.",
}

_STRING_LITERAL = (
    "string literals are not allowed",
    "write column names as they are, or in backticks when they contain spaces or "
    "symbols, e.g. `blood pressure` * 2.",
)
_SQUARE_BRACKETS = (
    "square brackets are not allowed (no subscripts, lists or comprehensions)",
    "refer to whole columns by name; formulas work on all rows at once.",
)
_BRACES = ("braces are not allowed (no dicts or sets)", "remove them.")

# Characters that start something Python would accept but formulas do not.
_CHAR_FIXES = {
    "'": _STRING_LITERAL,
    '"': _STRING_LITERAL,
    "[": _SQUARE_BRACKETS,
    "]": _SQUARE_BRACKETS,
    "{": _BRACES,
    "}": _BRACES,
    "^": ("'^' is not an operator here", "write powers with '**', e.g. x ** 2."),
    ";": (
        "';' is not allowed: a formula is a single expression",
        "write one formula per derived column.",
    ),
    ":": (
        "':' is not allowed (no slices, annotations or ':=')",
        "a formula is a single expression over columns.",
    ),
    "%": ("'%' (modulo) is not supported", "use the functions listed in the documentation."),
    "@": ("'@' (matrix product) is not supported", "use '*' for a row-wise product."),
    "#": ("comments are not allowed", "remove the '#' and what follows it."),
    "\\": ("backslashes are not allowed", "write the formula on one line without '\\'."),
    ".": (
        "'.' is not allowed here (no attribute access)",
        "numbers are written like 0.5 or 1e-3; functions are called by name, e.g. log(x).",
    ),
    "=": ("'=' assigns, which formulas cannot do", "compare with '==', e.g. x == 1."),
    "!": ("'!' alone is not an operator", "negate a condition with '~', or compare with '!='."),
}

# Two characters that look like an operator of another language: reason and fix.
_PAIR_FIXES = {
    "//": ("'//' (floor division) is not supported", "divide with '/', e.g. x / 2."),
    "<>": ("'<>' is not an operator", "write '!=' for 'not equal'."),
}
for _pair in ("<<", ">>"):
    _PAIR_FIXES[_pair] = (f"{_pair!r} (bit shift) is not supported", "use '*' or '/'.")
for _pair in ("&&", "||"):
    _PAIR_FIXES[_pair] = (f"{_pair!r} is not an operator", f"use a single {_pair[0]!r}.")
for _pair in ("=<", "=>"):
    _PAIR_FIXES[_pair] = (f"{_pair!r} is not an operator", f"write {_pair[::-1]!r}.")


class Token(NamedTuple):
    """One token: ``kind`` is one of number, name, column, op, (, ), ",", =, end."""

    kind: str
    text: str
    start: int
    end: int
    value: object = None


def _error(text, position, reason, fix=None):
    return ExpressionError(reason, text=text, position=position, fix=fix)


def _is_name_start(char):
    return char.isalpha() or char == "_"


def _is_name_char(char):
    return char.isalnum() or char == "_"


def _number(text, i):
    match = _NUMBER.match(text, i)
    end = match.end()
    following = text[end] if end < len(text) else " "
    if following in "eE":
        raise _error(
            text,
            end,
            f"incomplete exponent in number {text[i : end + 1]!r}",
            "write scientific notation with digits after 'e', e.g. 1e-3.",
        )
    if following == "_":
        raise _error(
            text, end, "underscores in numbers are not supported", "write 1000000, or 1e6."
        )
    if following in "xXoObB" and text[i:end] == "0":
        raise _error(
            text, end, "hexadecimal, octal and binary numbers are not supported", "write decimals."
        )
    if following in "jJ":
        raise _error(text, end, "complex numbers are not supported", "use real numbers only.")
    if following == ".":
        raise _error(
            text,
            end,
            f"unexpected '.' after the number {text[i:end]!r}",
            "a number has at most one decimal point and no attributes, e.g. 0.5.",
        )
    if _is_name_char(following):
        raise _error(
            text,
            end,
            f"a number cannot be directly followed by a name ({text[i : end + 1]!r}...)",
            f"write the multiplication explicitly, e.g. {text[i:end]} * x.",
        )
    value = float(match.group())
    if math.isinf(value):
        raise _error(
            text,
            i,
            f"the number {match.group()!r} is too large (it overflows to infinity)",
            "use a smaller number, e.g. 1e300.",
        )
    return Token("number", match.group(), i, end, value)


def _name(text, i):
    end = i
    while end < len(text) and _is_name_char(text[end]):
        end += 1
    name = text[i:end]
    if not name.isidentifier():
        raise _error(
            text,
            i,
            f"{name!r} is not a valid name",
            f"write names with special characters in backticks, e.g. `{name}`.",
        )
    if name.startswith("__"):
        raise _error(
            text,
            i,
            f"names starting with '__' (dunder names such as {name!r}) are not allowed",
            "formulas only refer to columns, the constants pi and e, and the listed functions.",
        )
    if keyword.iskeyword(name):
        fix = _KEYWORD_FIXES.get(
            name, "formulas are not Python code; use columns, numbers, operators and functions."
        )
        raise _error(text, i, f"the Python keyword {name!r} is not allowed in a formula", fix)
    return Token("name", name, i, end, name)


def _backtick(text, i):
    close = text.find("`", i + 1)
    newline = min(
        (p for p in (text.find("\n", i + 1), text.find("\r", i + 1)) if p != -1), default=-1
    )
    if close == -1 or (newline != -1 and newline < close):
        raise _error(
            text,
            i,
            "unterminated backtick: a quoted column name must end with '`' on the same line",
            "close the name, e.g. `blood pressure`.",
        )
    name = text[i + 1 : close]
    problem = check_column_name(name)
    if problem:
        fix = (
            "rename the column in the data (dunder names are reserved)."
            if name.startswith("__")
            else "quote the exact column name, e.g. `blood pressure`."
        )
        raise _error(text, i, problem, fix)
    return Token("column", text[i : close + 1], i, close + 1, name)


def tokenize(text):
    """Split ``text`` into tokens, ending with an ``end`` token.

    Parameters
    ----------
    text : str
        The formula.

    Returns
    -------
    tokens : list of Token

    Raises
    ------
    ExpressionError
        On any character or word outside the formula language.

    Examples
    --------
    >>> [t.text for t in tokenize("log(`blood pressure`) >= 1e-3")]
    ['log', '(', '`blood pressure`', ')', '>=', '1e-3', '']
    """
    tokens = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        pair = text[i : i + 2]
        if pair in _PAIR_FIXES:
            raise _error(text, i, *_PAIR_FIXES[pair])
        token = _next_token(text, i)
        tokens.append(token)
        i = token.end
    tokens.append(Token("end", "", len(text), len(text)))
    return tokens


def _next_token(text, i):
    """Return the token that starts at ``text[i]`` (not a space), or raise why there is none."""
    char = text[i]
    pair = text[i : i + 2]
    if char in "0123456789" or (char == "." and text[i + 1 : i + 2] in set("0123456789")):
        return _number(text, i)
    if _is_name_start(char):
        return _name(text, i)
    if char == "`":
        return _backtick(text, i)
    if pair in _TWO_CHAR_OPS:
        return Token("op", pair, i, i + 2)
    if char in _ONE_CHAR_OPS:
        return Token("op", char, i, i + 1)
    if char in "(),":
        return Token(char, char, i, i + 1)
    if char == "=":
        # Kept as a token: the parser knows whether it is a keyword argument.
        return Token("=", char, i, i + 1)
    if char in _CHAR_FIXES:
        reason, fix = _CHAR_FIXES[char]
        raise _error(text, i, reason, fix)
    raise _error(
        text,
        i,
        f"unexpected character {char!r}",
        "formulas use column names, numbers, + - * / ** ( ) , < <= > >= == != & | ~ "
        "and backticks around column names with spaces.",
    )
