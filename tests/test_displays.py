"""scikit-learn style displays: ``from_estimator``, ``plot(ax=...)``, ``ax_`` and ``figure_``.

Every display is built from a small fitted estimator, for a binary and a
multiclass target where the estimator takes one; the drawn text must be the
real feature and class names, and figures made without an ``ax`` must show in
a notebook (registered with pyplot) and stay out of pyplot elsewhere.
"""

import sys
import types

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.feature_selection import SelectKBest, f_classif  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from tabsift.datasets import make_domain_shift  # noqa: E402
from tabsift.feature_selection import (  # noqa: E402
    ImportanceDisplay,
    KANSelector,
    PermutationImportanceSelector,
    ShapeDisplay,
    ShapSelector,
)
from tabsift.residual import ResidualAgentClassifier, ResidualDisplay  # noqa: E402
from tabsift.rules import BooleanRuleClassifier, RuleDisplay  # noqa: E402
from tabsift.sampling import (  # noqa: E402
    ImportanceResampler,
    KCenterSelector,
    SelectionDisplay,
    WeightDisplay,
)
from tabsift.tree import EvolvedTreeClassifier, FitnessHistoryDisplay, TreeDisplay  # noqa: E402

# Resolve pyplot's backend now, with no IPython stub in sys.modules: switching backends
# later would try to hook into the (fake) shell's events.
plt.switch_backend("Agg")

COLUMNS = ["age", "income", "noise"]
TASKS = ("binary", "multiclass")


def _data(task, n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=COLUMNS)
    score = X["age"] + 0.6 * X["income"] * X["age"] + 0.3 * X["income"]
    if task == "binary":
        y = np.where(score > 0, "sick", "healthy")
    else:
        y = np.array(["low", "mid", "high"])[np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))]
    return X, y


_FITTED = {}


def fitted(name, task):
    """One small fitted estimator per (name, task), fitted on first use."""
    key = (name, task)
    if key not in _FITTED:
        X, y = _data(task)
        if name == "permutation":
            model = PermutationImportanceSelector(
                LogisticRegression(), n_features_to_select=1, random_state=0
            )
        elif name == "kan":
            model = KANSelector(epochs=2, cv=2, n_features_to_select=2, random_state=0)
        elif name == "tree":
            model = EvolvedTreeClassifier(max_depth=2, n_generations=1, random_state=0)
        elif name == "rules":
            model = BooleanRuleClassifier(n_iterations=200, n_starts=1, random_state=0)
        elif name == "residual":
            model = ResidualAgentClassifier(
                LogisticRegression(), n_rounds=1, cv=3, n_jobs=1, random_state=0
            )
        elif name == "kcenter":
            model = KCenterSelector(n_samples=12, random_state=0)
        else:
            raise KeyError(name)
        _FITTED[key] = (model.fit(X, y), X, y)
    return _FITTED[key]


# What each display is built from, and the type its ax_ documents.
BUILDERS = {
    "ImportanceDisplay": (
        lambda t: ImportanceDisplay.from_estimator(fitted("permutation", t)[0]), Axes
    ),
    "ShapeDisplay": (
        lambda t: ShapeDisplay.from_estimator(fitted("kan", t)[0], features=["age", "income"]),
        np.ndarray,
    ),
    "TreeDisplay": (lambda t: TreeDisplay.from_estimator(fitted("tree", t)[0]), Axes),
    "FitnessHistoryDisplay": (
        lambda t: FitnessHistoryDisplay.from_estimator(fitted("tree", t)[0]), Axes
    ),
    "RuleDisplay": (lambda t: RuleDisplay.from_estimator(fitted("rules", t)[0]), np.ndarray),
    "ResidualDisplay": (
        lambda t: ResidualDisplay.from_estimator(fitted("residual", t)[0]), np.ndarray
    ),
    "SelectionDisplay": (
        lambda t: SelectionDisplay.from_estimator(*fitted("kcenter", t)), Axes
    ),
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _axes(display):
    return list(np.atleast_1d(np.asarray(display.ax_, dtype=object)).ravel())


def _bars(ax):
    return next(c for c in ax.containers if isinstance(c, BarContainer))


def _texts(ax):
    return [t.get_text() for t in ax.texts]


# ------------------------------------------------------------------ the pattern
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_from_estimator_sets_documented_types_and_binary_matches_multiclass(name, monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    build, expected = BUILDERS[name]
    displays = [build(task) for task in TASKS]
    for display in displays:
        assert isinstance(display.ax_, expected)
        assert isinstance(display.figure_, Figure)
        for ax in _axes(display):
            assert isinstance(ax, Axes) and ax.figure is display.figure_
    assert type(displays[0].ax_) is type(displays[1].ax_)
    assert np.ndim(displays[0].ax_) == np.ndim(displays[1].ax_)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_in_ipython_the_figure_is_registered_with_pyplot(name, monkeypatch):
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: object()  # a running shell
    fake.version_info = (9, 0, 0)  # matplotlib reads it when pyplot makes a canvas
    monkeypatch.setitem(sys.modules, "IPython", fake)
    build, _ = BUILDERS[name]
    build("binary")  # fit first: only the display's own figure is counted
    before = len(plt.get_fignums())
    display = build("binary")
    assert len(plt.get_fignums()) == before + 1
    assert plt.fignum_exists(display.figure_.number)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_outside_ipython_the_figure_stays_out_of_pyplot(name, monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    build, _ = BUILDERS[name]
    before = plt.get_fignums()
    display = build("binary")
    assert plt.get_fignums() == before
    assert all(plt.figure(n) is not display.figure_ for n in plt.get_fignums())


# ------------------------------------------------------------- feature selection
@pytest.mark.parametrize("task", TASKS)
def test_importance_display_names_the_features_best_first(task):
    selector = fitted("permutation", task)[0]
    display = ImportanceDisplay.from_estimator(selector)
    labels = [t.get_text() for t in display.ax_.get_yticklabels()]
    assert sorted(labels) == sorted(COLUMNS)
    assert labels[0] == COLUMNS[int(np.argmax(selector.scores_))]
    # The spread over permutation repeats is drawn as error bars.
    bars = _bars(display.ax_)
    assert bars.errorbar is not None
    kept = COLUMNS[int(np.flatnonzero(selector.get_support())[0])]
    assert bars.patches[labels.index(kept)].get_facecolor() == to_rgba("#1f77b4")
    assert "PermutationImportanceSelector: 1 of 3 kept" in display.ax_.get_title()


def test_importance_display_plots_on_a_given_ax_and_top():
    fig = Figure()
    ax = fig.subplots()
    display = ImportanceDisplay.from_estimator(fitted("permutation", "binary")[0], ax=ax, top=2)
    assert display.ax_ is ax and display.figure_ is fig
    assert len(ax.patches) == 2


def test_importance_display_from_numbers():
    display = ImportanceDisplay(
        [0.2, 0.5, 0.3], feature_names=["a", "b", "c"], support=[False, True, False]
    ).plot(top=2)
    assert [t.get_text() for t in display.ax_.get_yticklabels()] == ["b", "c"]
    assert _bars(display.ax_).errorbar is None
    with pytest.raises(ValueError, match="feature_names has 2 names but importances has 3"):
        ImportanceDisplay([0.2, 0.5, 0.3], feature_names=["a", "b"]).plot()


def test_importance_display_reads_the_fold_spread_of_a_kan_selector():
    selector = fitted("kan", "binary")[0]
    display = ImportanceDisplay.from_estimator(selector)
    assert display.ax_.get_title().startswith(f"KAN-{selector.method.upper()}")
    assert "spread over folds" in display.ax_.get_xlabel()
    caps = _bars(display.ax_).errorbar.lines[2][0].get_segments()
    labels = [t.get_text() for t in display.ax_.get_yticklabels()]
    spread = selector.scores_per_fold_.std(axis=0)
    widths = [abs(seg[1][0] - seg[0][0]) / 2 for seg in caps]
    np.testing.assert_allclose(widths, [spread[COLUMNS.index(n)] for n in labels])


def test_importance_display_takes_shap_and_scikit_learn_selectors():
    X, y = _data("binary")
    shap = ShapSelector(n_features_to_select=1, random_state=0).fit(X, y)
    assert ImportanceDisplay.from_estimator(shap).ax_.get_xlabel() == "mean |SHAP| (normalised)"
    kbest = SelectKBest(f_classif, k=1).fit(X, y)
    display = ImportanceDisplay.from_estimator(kbest)
    assert sorted(t.get_text() for t in display.ax_.get_yticklabels()) == sorted(COLUMNS)
    with pytest.raises(TypeError, match="has no scores_ to plot"):
        ImportanceDisplay.from_estimator(LogisticRegression().fit(X, y))


@pytest.mark.parametrize("task", TASKS)
def test_shape_display_one_panel_per_feature_named_and_labelled(task):
    selector = fitted("kan", task)[0]
    display = ShapeDisplay.from_estimator(selector, features=["age", "income"])
    assert display.ax_.shape == (2,)
    assert [ax.get_xlabel() for ax in display.ax_] == ["age", "income"]
    if task == "binary":
        assert display.ax_[0].get_ylabel() == f"log-odds of {selector.classes_[1]}"
    else:
        legend = [t.get_text() for t in display.ax_[0].get_legend().get_texts()]
        assert legend == [str(c) for c in selector.classes_]


def test_shape_display_plots_on_given_axes():
    fig = Figure()
    given = fig.subplots(1, 2)
    display = ShapeDisplay.from_estimator(
        fitted("kan", "binary")[0], features=["noise", "age"], ax=given
    )
    assert list(display.ax_) == list(given) and display.figure_ is fig
    assert given[0].get_xlabel() == "noise" and given[0].lines
    with pytest.raises(TypeError, match="KANSelector"):
        ShapeDisplay.from_estimator(fitted("permutation", "binary")[0])


# ------------------------------------------------------------------------- tree
@pytest.mark.parametrize("task", TASKS)
def test_tree_display_shows_feature_names_and_classes(task):
    clf, _, y = fitted("tree", task)
    display = TreeDisplay.from_estimator(clf)
    first_lines = [text.splitlines()[0] for text in _texts(display.ax_) if "\n" in text]
    splits = [line for line in first_lines if line in COLUMNS]
    leaves = [line for line in first_lines if line not in COLUMNS]
    assert splits and leaves
    assert set(leaves) <= set(np.unique(y))


def test_tree_displays_plot_on_a_given_ax():
    clf = fitted("tree", "binary")[0]
    fig = Figure()
    left, right = fig.subplots(1, 2)
    tree = TreeDisplay.from_estimator(clf, ax=left)
    history = FitnessHistoryDisplay.from_estimator(clf, ax=right)
    assert tree.ax_ is left and history.ax_ is right
    assert tree.figure_ is fig and history.figure_ is fig
    assert left.texts and right.lines
    # The constructor takes the data: a Tree and a history.
    again = TreeDisplay(clf.tree_, decimals=1).plot()
    assert len(again.ax_.texts) == len(left.texts)


@pytest.mark.parametrize("task", TASKS)
def test_fitness_history_display_labels_the_metric_and_generations(task):
    clf = fitted("tree", task)[0]
    display = FitnessHistoryDisplay.from_estimator(clf)
    assert display.ax_.get_ylabel() == "balanced accuracy"
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert "best (train)" in legend
    generations = [row["generation"] for row in clf.history_]
    assert list(display.ax_.lines[0].get_xdata()) == generations
    with pytest.raises(ValueError, match="history is empty"):
        FitnessHistoryDisplay([], metric="R^2").plot()


# ------------------------------------------------------------------------ rules
@pytest.mark.parametrize("task", TASKS)
def test_rule_display_one_panel_per_rule_titled_with_the_class(task):
    clf = fitted("rules", task)[0]
    display = RuleDisplay.from_estimator(clf)
    if task == "binary":
        assert display.ax_.shape == (1,)
        assert display.ax_[0].get_title() == f"predict {str(clf.classes_[1])!r} when"
    else:
        assert display.ax_.shape == (3,)
        assert [ax.get_title() for ax in display.ax_] == [f"class {str(c)!r}" for c in clf.classes_]
    conditions = [text for ax in display.ax_ for text in _texts(ax)]
    assert any(text.split(" ")[0] in COLUMNS for text in conditions)
    # Same shape as the estimator's own plot().
    assert clf.plot().shape == display.ax_.shape


@pytest.mark.parametrize("task", TASKS)
def test_rule_display_plots_on_given_axes(task):
    clf = fitted("rules", task)[0]
    n_rules = 1 if task == "binary" else 3
    fig = Figure()
    given = fig.subplots(1, n_rules, squeeze=False).ravel()
    display = RuleDisplay.from_estimator(clf, ax=given[0] if n_rules == 1 else given)
    assert list(display.ax_) == list(given) and display.figure_ is fig
    assert all(ax.texts for ax in given)
    with pytest.raises(ValueError, match=f"one Axes per rule \\({n_rules}\\); found 2"):
        RuleDisplay.from_estimator(clf, ax=Figure().subplots(1, 2))


# --------------------------------------------------------------------- residual
@pytest.mark.parametrize("task", TASKS)
def test_residual_display_panels_are_named_columns(task):
    model = fitted("residual", task)[0]
    display = ResidualDisplay.from_estimator(model)
    assert display.ax_.ndim == 1 and display.ax_.size >= 1
    assert {ax.get_xlabel() for ax in display.ax_} <= set(COLUMNS)
    assert display.ax_[0].get_ylabel() == "1 - P(true class)"
    legend = sorted(t.get_text() for t in display.ax_[0].get_legend().get_texts())
    assert legend == ["base model", "corrected"]


def test_residual_display_plots_on_given_axes():
    model = fitted("residual", "multiclass")[0]
    fig = Figure()
    ax = fig.subplots()
    display = ResidualDisplay.from_estimator(model, feature="income", ax=ax)
    assert list(display.ax_) == [ax] and display.figure_ is fig
    assert ax.get_xlabel() == "income" and len(ax.collections) == 2
    n_panels = ResidualDisplay.from_estimator(model).ax_.size
    given = Figure().subplots(1, n_panels + 1)
    with pytest.raises(ValueError, match=f"{n_panels} panels are drawn"):
        ResidualDisplay.from_estimator(model, ax=given)
    if n_panels > 1:
        given = Figure().subplots(1, n_panels)
        display = ResidualDisplay.from_estimator(model, ax=given)
        assert list(display.ax_) == list(given)


# --------------------------------------------------------------------- sampling
@pytest.mark.parametrize("task", TASKS)
def test_selection_display_colours_kept_rows_by_class_sized_by_weight(task):
    selector, X, y = fitted("kcenter", task)
    display = SelectionDisplay.from_estimator(selector, X, y)
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    kept_classes = sorted(set(y[selector.sample_indices_]))
    assert legend == [f"all rows ({len(X)})", *kept_classes]
    everything, *per_class = display.ax_.collections
    assert everything.get_offsets().shape == (len(X), 2)
    assert sum(c.get_offsets().shape[0] for c in per_class) == len(selector.sample_indices_)
    # Marker areas grow with sample_weight_ (kept rows drawn class by class).
    sizes = np.concatenate([c.get_sizes() for c in per_class])
    order = np.concatenate(
        [np.flatnonzero(y[selector.sample_indices_] == c) for c in kept_classes]
    )
    weights = selector.sample_weight_[order]
    assert np.ptp(weights) > 0 and np.ptp(sizes) > 0
    assert np.all(np.diff(sizes[np.argsort(weights, kind="stable")]) >= 0)
    assert display.ax_.get_xlabel().startswith("PC1 (")


def test_selection_display_any_selector_mixed_table_given_ax():
    data = make_domain_shift(n_pool=300, n_target=40, random_state=0)
    sampler = ImportanceResampler(data.target, n_samples=30, random_state=0).fit(data.pool)
    fig = Figure()
    ax = fig.subplots()
    display = SelectionDisplay.from_estimator(sampler, data.pool, ax=ax)
    assert display.ax_ is ax and display.figure_ is fig
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["all rows (300)", "kept (30)"]
    # Coloured by a label column of the pool (the domains), then by a continuous target.
    by_domain = SelectionDisplay.from_estimator(sampler, data.pool, data.pool_domain)
    legend = {t.get_text() for t in by_domain.ax_.get_legend().get_texts()}
    assert legend - {"all rows (300)"} <= set(data.domains)
    scored = SelectionDisplay.from_estimator(sampler, data.pool, data.pool["x0"].to_numpy())
    assert len(scored.figure_.axes) == 2  # the plot and its colour bar
    with pytest.raises(ValueError, match="pass the X the selector was fitted on"):
        SelectionDisplay.from_estimator(sampler, data.pool.iloc[:10])


def test_weight_display_reuses_the_resampler_plot():
    data = make_domain_shift(n_pool=300, n_target=40, random_state=0)
    sampler = ImportanceResampler(data.target, n_samples=30, random_state=0).fit(data.pool)
    display = WeightDisplay.from_estimator(sampler, n_features=4)
    assert isinstance(display.ax_, Axes) and isinstance(display.figure_, Figure)
    labels = [t.get_text() for t in display.ax_.get_yticklabels()]
    assert len(labels) == 4 and set(labels) <= set(sampler.bucket_names_.values())
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == ["pool", "target", "selection"]
    fig = Figure()
    ax = fig.subplots()
    assert WeightDisplay(sampler, n_features=3).plot(ax=ax).ax_ is ax
    assert len(ax.get_yticklabels()) == 3
    with pytest.raises(TypeError, match="ImportanceResampler"):
        WeightDisplay.from_estimator(fitted("kcenter", "binary")[0])
