"""Errors raised by the expression language, with a caret under the offending spot."""

# Width of the excerpt of a long line shown above the caret.
_SNIPPET_WIDTH = 72


def _printable(char):
    # Keep the caret aligned: every character of the excerpt is shown as one column.
    return char if char.isprintable() else "?"


def caret_snippet(text, position):
    """Return the line of ``text`` around ``position`` and a caret line under it.

    Parameters
    ----------
    text : str
        The formula.
    position : int
        0-based character offset (``len(text)`` points just past the end).

    Returns
    -------
    snippet : str
        Two lines, indented by four spaces.

    Examples
    --------
    >>> print(caret_snippet("log(x) + y.z", 10))
        log(x) + y.z
                  ^
    """
    position = max(0, min(position, len(text)))
    line_start = text.rfind("\n", 0, position) + 1
    line_end = text.find("\n", position)
    if line_end == -1:
        line_end = len(text)
    line = text[line_start:line_end]
    column = position - line_start
    prefix = suffix = ""
    if len(line) > _SNIPPET_WIDTH:
        start = max(0, min(column - _SNIPPET_WIDTH // 2, len(line) - _SNIPPET_WIDTH))
        end = start + _SNIPPET_WIDTH
        if start > 0:
            prefix = "..."
        if end < len(line):
            suffix = "..."
        line = line[start:end]
        column -= start
    shown = "".join(_printable(c) for c in line)
    return f"    {prefix}{shown}{suffix}\n    {' ' * (len(prefix) + column)}^"


def _where(text, position):
    if "\n" not in text:
        return f"position {position}"
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1)
    return f"line {line}, column {column}; position {position}"


class ExpressionError(ValueError):
    """A formula that cannot be parsed or evaluated.

    Parameters
    ----------
    reason : str
        What was expected and what was found.
    text : str, default=None
        The formula, if known.
    position : int, default=None
        0-based character offset in ``text`` of the problem.
    fix : str, default=None
        How to fix it.

    Attributes
    ----------
    reason : str
    text : str or None
    position : int or None
    fix : str or None

    Examples
    --------
    >>> from tabsift.expr import ExpressionError, parse
    >>> try:
    ...     parse("x ^ 2")
    ... except ExpressionError as err:
    ...     print(err.position)
    ...     print(err)
    2
    '^' is not an operator here (at position 2)
        x ^ 2
          ^
    Fix: write powers with '**', e.g. x ** 2.
    """

    def __init__(self, reason, *, text=None, position=None, fix=None):
        super().__init__(reason)
        self.reason = reason
        self.text = text
        self.position = position
        self.fix = fix

    def __str__(self):
        lines = [self.reason]
        if self.text is not None and self.position is not None:
            lines[0] += f" (at {_where(self.text, self.position)})"
            lines.append(caret_snippet(self.text, self.position))
        if self.fix:
            lines.append(f"Fix: {self.fix}")
        return "\n".join(lines)


class NonFiniteResultError(ExpressionError):
    """A formula produced NaN or infinite values while ``check_finite=True``.

    Parameters
    ----------
    reason : str
        Which sub-expression produced which values on how many rows.
    text : str, default=None
        The formula.
    position : int, default=None
        Where the offending sub-expression starts in ``text``.
    fix : str, default=None
        How to fix it.
    subexpression : str, default=None
        The innermost sub-expression that produced the non-finite values.
    n_rows : int, default=0
        Number of rows of the result that are not finite.
    first_row : int, default=None
        0-based position of the first such row.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.expr import NonFiniteResultError, evaluate
    >>> try:
    ...     evaluate("log(x) + 1", {"x": np.array([1.0, 0.0, 2.0])})
    ... except NonFiniteResultError as err:
    ...     print(err.subexpression, err.n_rows, err.first_row)
    log(x) 1 1
    """

    def __init__(
        self,
        reason,
        *,
        text=None,
        position=None,
        fix=None,
        subexpression=None,
        n_rows=0,
        first_row=None,
    ):
        super().__init__(reason, text=text, position=position, fix=fix)
        self.subexpression = subexpression
        self.n_rows = n_rows
        self.first_row = first_row
