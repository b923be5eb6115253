"""Draw a rule as a tree with matplotlib (imported here, never with the package)."""

from tabsift.rules._nodes import Constant, Literal

_OPERATOR_COLOUR = "#dae8fc"
_LITERAL_COLOUR = "#d6e8d4"


def _label(node):
    if isinstance(node, Literal):
        return node.text()
    if isinstance(node, Constant):
        return str(bool(node.value))
    return node.label()


def _width(node):
    """Horizontal room for a leaf, in inches at font size 9: long conditions get more."""
    return max(0.9, 0.075 * len(_label(node)) + 0.45)


def _layout(node, level, positions, next_leaf):
    """Place ``node``'s subtree: return its x and append ``(node, x, -level)`` to ``positions``.

    Leaves sit side by side, each as wide as its text; an operator is centred above its
    children.
    """
    if isinstance(node, (Literal, Constant)):
        width = _width(node)
        x = next_leaf[0] + width / 2
        next_leaf[0] += width
    else:
        xs = [_layout(child, level + 1, positions, next_leaf) for child in node.children]
        x = (min(xs) + max(xs)) / 2
    positions.append((node, x, -level))
    return x


def plot_rule(rule, ax=None, title=None):
    """Draw ``rule`` (a :class:`~tabsift.rules.Rule`) as a tree on ``ax``; return the Axes."""
    positions, cursor = [], [0.0]
    _layout(rule.root, 0, positions, cursor)
    if ax is None:
        from tabsift.utils import new_figure

        fig = new_figure(figsize=(max(3.0, cursor[0] + 0.4), 1.3 * (rule.depth() + 1) + 0.6))
        ax = fig.subplots()
    where = {id(node): (x, y) for node, x, y in positions}
    for node, x, y in positions:
        for child in getattr(node, "children", ()):
            cx, cy = where[id(child)]
            ax.plot([x, cx], [y, cy], color="#1c2b39", linewidth=1.0, zorder=1)
    for node, x, y in positions:
        text = _label(node)
        colour = _OPERATOR_COLOUR if hasattr(node, "children") else _LITERAL_COLOUR
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=9,
            zorder=2,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": colour, "edgecolor": "#1c2b39"},
        )
    ys = [y for _, _, y in positions]
    ax.set_xlim(-0.1, cursor[0] + 0.1)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
