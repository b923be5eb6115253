"""Recursive-descent (precedence-climbing) parser with type checks and a depth limit.

Every recursive step is counted before it is taken: an operand of a pending
operator or call (``operand``) and a parenthesised group or argument list
(``group``). Past ``max_depth`` of either, the parser raises
:class:`ExpressionError`, so no input can exhaust Python's stack. Nodes are
also checked for height as they are built, so long flat chains such as
``x + x + ... + x`` are bounded too.

Pending operators are always ancestors of the node being parsed, so their
count never exceeds the height of the final tree: the operator limit is the
tree-height limit, checked early. Parentheses are limited separately; the
canonical text of a tree never nests parentheses deeper than the tree is
high, so ``parse(str(e))`` always succeeds under the limits ``e`` passed.
"""

from tabsift.expr._errors import ExpressionError
from tabsift.expr._nodes import (
    ARITHMETIC_OPS,
    BINARY_PREC,
    COMPARE_OPS,
    CONSTANTS,
    FUNCTIONS,
    HARD_MAX_DEPTH,
    PREC_COMPARE,
    PREC_NOT,
    PREC_SUM,
    PREC_UNARY,
    BinaryOp,
    Call,
    Column,
    Compare,
    Constant,
    Number,
    UnaryOp,
    children,
    walk,
)
from tabsift.expr._suggestions import close_matches, signature, unknown_column_error
from tabsift.expr._tokens import tokenize

NUMBER = "number"
CONDITION = "condition"

def _describe(token):
    return "the end of the formula" if token.kind == "end" else repr(token.text)


class _Parser:
    def __init__(self, text, columns, max_depth):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.columns = columns
        self.column_set = None if columns is None else frozenset(columns)
        self.max_depth = max_depth
        self.pending = 0  # operators and calls whose operand is being parsed
        self.parens = 0  # open parentheses (groups and argument lists)
        # id(node) -> [kind, height, start, end]; ``nodes`` keeps ids unique while parsing.
        self.info = {}
        self.nodes = []

    # -- helpers --------------------------------------------------------------------------
    def peek(self, ahead=0):
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self):
        token = self.tokens[self.i]
        if token.kind != "end":
            self.i += 1
        return token

    def error(self, position, reason, fix=None):
        return ExpressionError(reason, text=self.text, position=position, fix=fix)

    def too_deep(self, position):
        return self.error(
            position,
            f"the formula nests more than max_depth={self.max_depth} levels deep",
            "simplify it (remove redundant parentheses, or split it into several derived "
            f"columns), or pass a larger max_depth (at most {HARD_MAX_DEPTH}).",
        )

    def kind(self, node):
        return self.info[id(node)][0]

    def span(self, node):
        return self.info[id(node)][2], self.info[id(node)][3]

    def source(self, node):
        start, end = self.span(node)
        snippet = self.text[start:end]
        return snippet if len(snippet) <= 40 else snippet[:37] + "..."

    def make(self, node, kind, start, end, position):
        height = 1 + max((self.info[id(c)][1] for c in children(node)), default=0)
        if height > self.max_depth:
            raise self.too_deep(position)
        self.info[id(node)] = [kind, height, start, end]
        self.nodes.append(node)
        return node

    # -- grammar --------------------------------------------------------------------------
    def parse(self):
        if self.peek().kind == "end":
            raise self.error(0, "the formula is empty", "write an expression, e.g. log(x) + 1.")
        root = self.expression(0)
        token = self.peek()
        if token.kind != "end":
            raise self.unexpected_after(token)
        return root

    def operand(self, level):
        """Parse the operand of a pending operator or call; the tree grows a level."""
        self.pending += 1
        try:
            # The finished tree will be at least pending + 1 levels high.
            if self.pending >= self.max_depth:
                raise self.too_deep(self.peek().start)
            return self.expression(level)
        finally:
            self.pending -= 1

    def group(self, level, operand):
        """Parse inside parentheses: a group, or (``operand=True``) a call argument."""
        self.parens += 1
        try:
            if self.parens > self.max_depth:
                raise self.too_deep(self.peek().start)
            return self.operand(level) if operand else self.expression(level)
        finally:
            self.parens -= 1

    def expression(self, level):
        """Parse operators binding at least as tightly as ``level`` (precedence climbing)."""
        token = self.peek()
        if token.kind == "op" and token.text == "~":
            if level > PREC_NOT:
                raise self.error(
                    token.start,
                    "'~' (not) can only start a condition, not an operand of arithmetic "
                    "or of a comparison",
                    "negate whole conditions, e.g. ~(x > 0) or (x > 0) & ~(y > 0); "
                    "negate numbers with '-'.",
                )
            self.advance()
            node = self.unary(token, self.operand(PREC_NOT))
        elif token.kind == "op" and token.text in "+-":
            self.advance()
            operand = self.operand(PREC_UNARY)
            # Unary plus changes nothing and leaves no node.
            node = operand if token.text == "+" else self.unary(token, operand)
        else:
            node = self.primary()
        while True:
            token = self.peek()
            if token.kind != "op" or token.text not in BINARY_PREC:
                return node
            prec = BINARY_PREC[token.text]
            if prec < level:
                return node
            self.advance()
            if token.text == "**":
                # Right-associative, and the exponent may carry a sign: 2 ** -x.
                right = self.operand(PREC_UNARY)
            elif prec == PREC_COMPARE:
                right = self.operand(PREC_SUM)
            else:
                right = self.operand(prec + 1)
            node = self.binary(token, node, right)
            if prec == PREC_COMPARE:
                following = self.peek()
                if following.kind == "op" and following.text in COMPARE_OPS:
                    raise self.error(
                        following.start,
                        "comparisons cannot be chained",
                        "combine them with '&', e.g. (a < b) & (b < c).",
                    )

    def unary(self, token, operand):
        start = token.start
        end = self.span(operand)[1]
        if token.text == "-":
            if self.kind(operand) != NUMBER:
                raise self.error(
                    token.start,
                    f"'-' negates a number, but {self.source(operand)!r} is a condition",
                    "negate a condition with '~', e.g. ~(x > 0).",
                )
            return self.make(UnaryOp("-", operand), NUMBER, start, end, token.start)
        if self.kind(operand) != CONDITION:
            raise self.error(
                token.start,
                f"'~' negates a condition, but {self.source(operand)!r} is a number",
                "compare it first, e.g. ~(x > 0).",
            )
        return self.make(UnaryOp("~", operand), CONDITION, start, end, token.start)

    def binary(self, token, left, right):
        op = token.text
        if op in ARITHMETIC_OPS or op in COMPARE_OPS:
            for side, node in (("left", left), ("right", right)):
                if self.kind(node) != NUMBER:
                    if op in ARITHMETIC_OPS:
                        reason = f"'{op}' needs numbers on both sides"
                        fix = "turn a condition into numbers with where, e.g. where(x > 0, 1, 0)."
                    else:
                        reason = f"'{op}' compares numbers"
                        fix = "combine conditions with '&' or '|', e.g. (a < b) & (b < c)."
                    raise self.error(
                        self.span(node)[0],
                        f"{reason}, but its {side} side {self.source(node)!r} is a condition",
                        fix,
                    )
            cls, kind = (BinaryOp, NUMBER) if op in ARITHMETIC_OPS else (Compare, CONDITION)
        else:
            for side, node in (("left", left), ("right", right)):
                if self.kind(node) != CONDITION:
                    src = self.source(node)
                    example = (
                        src if isinstance(node, (Column, Number, Constant, Call)) else f"({src})"
                    )
                    raise self.error(
                        self.span(node)[0],
                        f"'{op}' combines conditions, but its {side} side {src!r} is a number",
                        f"compare it first, e.g. {example} > 0.",
                    )
            cls, kind = BinaryOp, CONDITION
        start, end = self.span(left)[0], self.span(right)[1]
        return self.make(cls(op, left, right), kind, start, end, token.start)

    def primary(self):
        token = self.advance()
        if token.kind == "number":
            return self.make(Number(token.value), NUMBER, token.start, token.end, token.start)
        if token.kind == "column":
            return self.column(token.value, token)
        if token.kind == "name":
            return self.name(token)
        if token.kind == "(":
            if self.peek().kind == ")":
                raise self.error(
                    token.start, "empty parentheses '()'", "put an expression inside, e.g. (x + 1)."
                )
            inner = self.group(0, operand=False)
            close = self.peek()
            if close.kind == "end":
                raise self.error(
                    close.start,
                    f"missing ')' to close the '(' at position {token.start}",
                    "add the closing parenthesis.",
                )
            if close.kind != ")":
                raise self.unexpected_after(close)
            self.advance()
            # The span of a parenthesised node includes its parentheses.
            self.info[id(inner)][2:] = [token.start, close.end]
            return inner
        if token.kind == "end":
            raise self.error(
                token.start,
                "the formula ends where an operand was expected",
                "complete it with a number, a column or a function call, e.g. x + 1.",
            )
        if token.kind == "=":
            raise self.error(
                token.start,
                "'=' assigns, which formulas cannot do",
                "compare with '==', e.g. x == 1.",
            )
        raise self.error(
            token.start,
            f"expected an operand (a number, a column, a function call or '(') but found "
            f"{_describe(token)}",
            "check for a missing operand or a doubled operator.",
        )

    def name(self, token):
        name = token.value
        if self.peek().kind == "(":
            if name in FUNCTIONS:
                return self.call(token)
            if name in CONSTANTS:
                raise self.error(
                    token.start,
                    f"{name!r} is a constant, not a function",
                    f"multiply explicitly, e.g. {name} * (x + 1).",
                )
            if self.column_set is not None and name in self.column_set:
                raise self.error(
                    self.peek().start,
                    f"the column {name!r} is followed by '(' but is not a function",
                    f"formulas have no implicit multiplication: write {name} * (...).",
                )
            matches = close_matches(name, FUNCTIONS)
            hint = f"did you mean {', '.join(matches)}? " if matches else ""
            if self.column_set is None:
                hint += f"If {name!r} is a column, multiply explicitly: {name} * (...). "
            raise self.error(
                token.start,
                f"unknown function {name!r}",
                f"{hint}The functions are: {', '.join(signature(f) for f in FUNCTIONS)}.",
            )
        if name in CONSTANTS:
            return self.make(Constant(name), NUMBER, token.start, token.end, token.start)
        if name in FUNCTIONS:
            fix = f"call it, e.g. {signature(name)}."
            if self.column_set is not None and name in self.column_set:
                fix += f" To use the column named {name!r}, write it in backticks: `{name}`."
            raise self.error(token.start, f"the function {name!r} must be called", fix)
        return self.column(name, token)

    def column(self, name, token):
        if self.column_set is not None and name not in self.column_set:
            raise unknown_column_error(name, self.columns, text=self.text, position=token.start)
        return self.make(Column(name), NUMBER, token.start, token.end, token.start)

    def call(self, name_token):
        func = name_token.value
        self.advance()  # "("
        args = []
        if self.peek().kind == ")":
            close = self.advance()
        else:
            while True:
                token = self.peek()
                if token.kind in ("name", "column") and self.peek(1).kind == "=":
                    raise self.error(
                        token.start,
                        f"keyword arguments are not supported ({token.text}=...)",
                        f"pass arguments by position: {signature(func)}.",
                    )
                args.append(self.group(0, operand=True))
                close = self.advance()
                if close.kind == ")":
                    break
                if close.kind == ",":
                    if self.peek().kind == ")":
                        raise self.error(
                            self.peek().start,
                            f"expected an argument after ',' in the call of {func}",
                            f"remove the trailing comma: {signature(func)}.",
                        )
                    continue
                if close.kind == "end":
                    raise self.error(
                        close.start,
                        f"missing ')' to close the call of {func} at position {name_token.start}",
                        "add the closing parenthesis.",
                    )
                if close.kind == "=":
                    raise self.error(
                        close.start,
                        "keyword arguments and '=' are not supported in a call",
                        f"pass arguments by position: {signature(func)}.",
                    )
                raise self.unexpected_after(close)
        expected = FUNCTIONS[func]
        if len(args) != len(expected):
            raise self.error(
                name_token.start,
                f"{func} takes {len(expected)} argument{'s' if len(expected) > 1 else ''} "
                f"({', '.join(expected)}), found {len(args)}",
                f"call it as {signature(func)}.",
            )
        for index, (arg, param) in enumerate(zip(args, expected, strict=True)):
            want = CONDITION if func == "where" and index == 0 else NUMBER
            if self.kind(arg) != want:
                found = "a condition" if want == NUMBER else "a number"
                wanted = "a condition such as x > 0" if want == CONDITION else "a number"
                raise self.error(
                    self.span(arg)[0],
                    f"argument {param!r} of {func} must be {wanted}, found {found} "
                    f"{self.source(arg)!r}",
                    f"call it as {signature(func)}"
                    + (
                        "; turn a condition into numbers with where(condition, 1, 0)."
                        if want == NUMBER
                        else "."
                    ),
                )
        return self.make(
            Call(func, tuple(args)), NUMBER, name_token.start, close.end, name_token.start
        )

    def unexpected_after(self, token):
        """Return the error for ``token`` following a complete expression."""
        previous = self.tokens[self.i - 1] if self.i > 0 else None
        if token.kind in ("name", "column", "number"):
            fix = "add an operator between them, e.g. a * b."
            if previous is not None and previous.kind == "name" and token.kind == "name":
                fix = (
                    f"if {previous.text} {token.text} is one column name, write it in backticks: "
                    f"`{previous.text} {token.text}`; otherwise add an operator, e.g. "
                    f"{previous.text} * {token.text}."
                )
            return self.error(token.start, f"expected an operator before {token.text!r}", fix)
        if token.kind == "(":
            return self.error(
                token.start,
                "expected an operator before '('",
                "formulas have no implicit multiplication: write x * (y + 1).",
            )
        if token.kind == ")":
            return self.error(token.start, "unmatched ')'", "remove it or add the matching '('.")
        if token.kind == ",":
            return self.error(
                token.start,
                "',' outside a function call (tuples are not supported)",
                "commas only separate the arguments of a function, e.g. clip(x, 0, 1).",
            )
        if token.kind == "=":
            return self.error(
                token.start,
                "'=' assigns, which formulas cannot do",
                "compare with '==', e.g. x == 1.",
            )
        return self.error(
            token.start,
            f"the operator {token.text!r} cannot follow an operand",
            "'~' goes before a condition, e.g. (x > 0) & ~(y > 0).",
        )


def parse_tree(text, *, columns=None, max_length=2000, max_depth=64):
    """Parse ``text`` into ``(root, kind, spans)``; see :func:`tabsift.expr.parse`.

    ``spans`` maps a node's path (tuple of child indices from the root) to the
    ``(start, end)`` character range it was written at.
    """
    if not isinstance(text, str):
        raise TypeError(f"a formula must be a str, found {type(text).__name__}: {text!r:.80}")
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
    ):
        raise ValueError(f"max_length must be a positive int or None, found {max_length!r}.")
    if (
        isinstance(max_depth, bool)
        or not isinstance(max_depth, int)
        or not 1 <= max_depth <= HARD_MAX_DEPTH
    ):
        raise ValueError(
            f"max_depth must be an int between 1 and {HARD_MAX_DEPTH}, found {max_depth!r}."
        )
    if isinstance(columns, str):
        raise TypeError(
            f"columns must be a sequence of column names, found the str {columns!r}; "
            f"pass [{columns!r}] for a single column."
        )
    if columns is not None:
        columns = tuple(c if isinstance(c, str) else str(c) for c in columns)
    if max_length is not None and len(text) > max_length:
        raise ExpressionError(
            f"the formula has {len(text)} characters, more than max_length={max_length}",
            text=text,
            position=max_length,
            fix="shorten it (e.g. split it into several derived columns), or pass a larger "
            "max_length.",
        )
    parser = _Parser(text, columns, max_depth)
    root = parser.parse()
    spans = {path: tuple(parser.info[id(node)][2:]) for path, node in walk(root)}
    return root, parser.kind(root), spans
