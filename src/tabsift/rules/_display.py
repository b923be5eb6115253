"""scikit-learn style display of learned Boolean rules, one tree per rule.

Like :class:`sklearn.metrics.ConfusionMatrixDisplay`: the constructor stores
the rules, :meth:`plot` draws them and sets ``ax_`` and ``figure_``,
``from_estimator`` reads a fitted :class:`BooleanRuleClassifier` and plots.
The drawing is :mod:`tabsift.rules._plot`'s, as in ``Rule.plot``.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from tabsift.rules._export import labelled_rules
from tabsift.rules._plot import plot_rule
from tabsift.utils import plain


class RuleDisplay:
    """Boolean rules drawn as trees: operators on top, conditions as leaves.

    ``ax_`` is always a 1-D ndarray of Axes, one per rule: one for a binary
    target (the rule for the second class), one per class otherwise, as
    :meth:`BooleanRuleClassifier.plot` returns.

    Parameters
    ----------
    rules : list of Rule
        The rules to draw, one panel each.
    titles : list of str, default=None
        One title per rule; none by default.

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes of shape (n_rules,)
        One Axes per rule.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.

    See Also
    --------
    BooleanRuleClassifier.export_text : The same rules as text.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.rules import BooleanRuleClassifier, RuleDisplay
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = BooleanRuleClassifier(n_iterations=10, n_starts=1, random_state=0)
    >>> display = RuleDisplay.from_estimator(clf.fit(X, [0, 0, 1, 1]))
    >>> display.ax_.shape, display.ax_[0].texts[0].get_text(), display.ax_[0].get_title()
    ((1,), 'x0 > 1', 'predict 1 when')
    """

    def __init__(self, rules, *, titles=None):
        self.rules = rules
        self.titles = titles

    def plot(self, ax=None):
        """Draw one tree per rule.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            One Axes per rule (a single Axes for a single rule); a new figure
            with panels as wide as their rules by default (shown inline in
            Jupyter).

        Returns
        -------
        display : RuleDisplay
            ``self``, with ``ax_`` and ``figure_`` set.
        """
        rules = list(self.rules)
        if not rules:
            raise ValueError("rules is empty; pass at least one Rule to draw.")
        titles = [None] * len(rules) if self.titles is None else list(self.titles)
        if len(titles) != len(rules):
            raise ValueError(
                f"titles has {len(titles)} entries for {len(rules)} rules; pass one per rule."
            )
        axes = np.empty(len(rules), dtype=object)
        if ax is None and len(rules) > 1:
            from tabsift.utils import new_figure

            # Each panel as wide as its leaves' text, as plot_rule sizes a lone rule.
            widths = [
                max(3.0, sum(0.075 * len(lit.text()) + 0.45 for lit in rule.literals()))
                for rule in rules
            ]
            fig = new_figure(figsize=(sum(widths), 3.6), layout="constrained")
            axes[:] = list(
                fig.subplots(1, len(rules), squeeze=False, gridspec_kw={"width_ratios": widths})
                .ravel()
            )
        elif ax is not None:
            given = list(np.asarray(ax, dtype=object).ravel())
            if len(given) != len(rules):
                raise ValueError(
                    f"ax must hold one Axes per rule ({len(rules)}); found {len(given)}."
                )
            axes[:] = given
        for i, (rule, title) in enumerate(zip(rules, titles, strict=True)):
            axes[i] = plot_rule(rule, ax=axes[i], title=title)
        self.ax_ = axes
        self.figure_ = axes[0].figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Draw the rule(s) of a fitted BooleanRuleClassifier.

        Parameters
        ----------
        estimator : BooleanRuleClassifier
            A fitted classifier.
        ax : matplotlib Axes or array-like of Axes, default=None
            One Axes per rule; a new figure by default.

        Returns
        -------
        display : RuleDisplay
            ``ax_`` has one Axes for a binary target, titled with the class
            the rule predicts, and one per class otherwise.
        """
        check_is_fitted(estimator, "rule_")
        labelled = labelled_rules(estimator)
        if len(labelled) == 1:
            titles = [f"predict {plain(labelled[0][0])!r} when"]
        else:
            titles = [f"class {plain(label)!r}" for label, _ in labelled]
        display = cls([rule for _, rule in labelled], titles=titles)
        return display.plot(ax=ax)
