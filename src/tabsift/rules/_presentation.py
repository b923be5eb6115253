"""How a fitted BooleanRuleClassifier is read: text, dict, plot, row explanations, description.

These are the classifier's reading methods, defined here and assigned in its
class body (so the API reference documents them as its own methods); the
forms themselves are built by :mod:`._export`, :mod:`._explain`,
:mod:`._describe` and (with an LLM) :mod:`._llm_text`.
"""

from sklearn.utils.validation import check_is_fitted

import tabsift.rules._export as _export
from tabsift.rules._columns import check_input
from tabsift.rules._describe import describe_model
from tabsift.rules._explain import explain_records
from tabsift.rules._literals import host_literals
from tabsift.rules._llm_text import llm_row_text, llm_text, text_session
from tabsift.rules._nodes import host_namespace


def export_text(self):
    """Return the rule as text; one ``class: rule`` line per class for multiclass.

    Returns
    -------
    text : str

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.rules import BooleanRuleClassifier
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = BooleanRuleClassifier(n_iterations=10, n_starts=1, random_state=0)
    >>> clf.fit(X, [0, 0, 1, 1]).export_text()
    'x0 > 1'
    """
    check_is_fitted(self, "rule_")
    return _export.export_text(self)

def to_dict(self):
    """Everything needed to read (and re-evaluate) the model, JSON-ready.

    Returns
    -------
    data : dict
        ``classes``, ``rules`` (one per rule class: ``class``, ``rule``
        (:meth:`Rule.to_dict`), ``precision``, ``score``, ``text``),
        ``fallback_class``, ``metric`` and ``literals`` (the binariser's).

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.rules import BooleanRuleClassifier
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = BooleanRuleClassifier(n_iterations=10, n_starts=1, random_state=0)
    >>> clf.fit(X, [0, 0, 1, 1]).to_dict()["rules"][0]["text"]
    'x0 > 1'
    """
    check_is_fitted(self, "rule_")
    return _export.to_dict(self)

def plot(self, ax=None):
    """Draw the rule(s) as trees: one panel per rule.

    The return type does not depend on the number of classes: always a
    1-D ndarray of Axes, one per rule (one for a binary target, one per
    class otherwise), as scikit-learn's multi-panel displays keep their
    axes in an ndarray (``PartialDependenceDisplay.axes_``).

    Parameters
    ----------
    ax : matplotlib Axes or array-like of Axes, default=None
        Where to draw, one Axes per rule (a single Axes is accepted for
        a binary target); a new figure by default.

    Returns
    -------
    axes : ndarray of matplotlib Axes of shape (n_rules,)
        Their ``figure`` attribute is the figure drawn on.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.rules import BooleanRuleClassifier
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = BooleanRuleClassifier(n_iterations=10, n_starts=1, random_state=0)
    >>> axes = clf.fit(X, [0, 0, 1, 1]).plot()
    >>> axes.shape, axes[0].texts[0].get_text()
    ((1,), 'x0 > 1')
    """
    from tabsift.rules._display import RuleDisplay

    return RuleDisplay.from_estimator(self, ax=ax).ax_

def explain(self, X, *, llm=None, max_llm_rows=20):
    """Say, for each row, which conditions held and why the rule fired or not.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, `n_features_in_`)
    llm : LLMClient, default=None
        If given (or if the estimator has ``llm``), the first
        ``max_llm_rows`` rows also get an LLM-written sentence in
        ``llm_explanation``, checked like :meth:`describe` (the template
        reason is used when the check fails). When the LLM fails for good
        the remaining rows get the template reason, with one
        :class:`~tabsift.llm.LLMFallbackWarning` (``on_llm_error="raise"``:
        the error propagates).
    max_llm_rows : int, default=20
        Most rows sent to the LLM.

    Returns
    -------
    explanation : pandas.DataFrame
        One row per input row: ``prediction``, ``fired`` (the predicted
        class's rule fired; for multiclass ``fired_classes`` too),
        ``held`` and ``not_held`` (the rule's conditions, as text, that
        held or not), and ``reason``.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.rules import BooleanRuleClassifier
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = BooleanRuleClassifier(n_iterations=10, n_starts=1, random_state=0)
    >>> table = clf.fit(X, [0, 0, 1, 1]).explain(X[2:3])
    >>> table.loc[0, "reason"]
    'x0 > 1 held, so the rule fired: predict 1.'
    """
    import pandas as pd

    # The explanation is a pandas table: it is built on the host whatever X's namespace
    # or the configured backend.
    check_is_fitted(self, "rule_")
    Z = host_literals(self.binarizer_, check_input(self, X, reset=False))
    fired, decided = self._decide(Z, host_namespace())
    table = pd.DataFrame.from_records(explain_records(self, Z, fired, decided))
    client = llm if llm is not None else self.llm
    if client is not None and len(table):
        session = text_session(self, client)
        table["llm_explanation"] = None
        for i in range(min(max_llm_rows, len(table))):
            table.loc[i, "llm_explanation"] = llm_row_text(self, session, table.loc[i])
        session.finish(what="the template reason")
    return table

def describe(self, *, llm=None):
    """Return a plain-language description of the model, for a reader who is not an expert.

    Without an LLM it is built from templates. With one (``llm`` here, or
    the estimator's ``llm``), the LLM rewrites it with the
    ``feature_descriptions``; the result is checked to mention no column
    outside the rule and no number that is not one of the rule's
    thresholds or counts, and the template is returned when the check
    (or the request) fails. ``description_check_`` records which was
    used and why. A reply that only repeats the format template is
    rejected. When the LLM fails for good, the template is returned with
    one :class:`~tabsift.llm.LLMFallbackWarning` (``on_llm_error="raise"``:
    the error propagates).

    Parameters
    ----------
    llm : LLMClient, default=None

    Returns
    -------
    text : str

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.rules import BooleanRuleClassifier
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = BooleanRuleClassifier(n_iterations=10, n_starts=1, random_state=0)
    >>> print(clf.fit(X, [0, 0, 1, 1]).describe())
    Predict 1 when x0 > 1; otherwise predict 0. On the training rows: balanced_accuracy 1.00.
    """
    check_is_fitted(self, "rule_")
    template = describe_model(self)
    client = llm if llm is not None else self.llm
    self.description_check_ = {"source": "template", "reason": None}
    if client is None:
        return template
    session = text_session(self, client)
    text, reason = llm_text(
        self,
        session,
        "Rewrite this description of a classification rule for a non-expert, in at most "
        "three sentences. Mention only the conditions it contains; do not add other "
        "columns or numbers.",
        template,
    )
    session.finish(what="the template")
    if reason is not None:
        self.description_check_ = {"source": "template", "reason": reason}
        return template
    self.description_check_ = {"source": "llm", "reason": None}
    return text
