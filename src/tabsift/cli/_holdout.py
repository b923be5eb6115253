"""A test split the fit never sees, and the scores of the fitted model on both parts.

``fit-tree`` and ``fit-rules`` hold out ``--test-size`` of the rows (stratified by
class for classification, seeded by ``--seed``), fit on the rest and report the
training and the test score side by side; for a classifier also the confusion
matrix (labels, not indices) and per-class precision and recall on the test rows.
"""

import argparse


def _test_fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction of rows in [0, 1), got {text!r}"
        ) from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a fraction of rows in [0, 1) (0: no test split), got {text!r}"
        )
    return value


def add_test_size_argument(parser):
    """Add ``--test-size`` (fraction of rows held out for testing, default 0.2)."""
    parser.add_argument(
        "--test-size",
        type=_test_fraction,
        default=0.2,
        metavar="FRACTION",
        help="rows held out as a test split the fit never sees (stratified by class, seeded "
        "by --seed); 0 fits on every row and reports training scores only (default: 0.2)",
    )


def split_rows(X, y, *, task, test_size, seed):
    """Split ``X, y`` into a training and a test part.

    Returns ``(X_train, X_test, y_train, y_test, how)``; ``X_test`` and
    ``y_test`` are None when there is no test part (``test_size=0``, or too
    few rows), and ``how`` says in words which split was made and why.
    """
    import numpy as np
    from sklearn.model_selection import train_test_split

    n = len(y)
    n_test = int(np.ceil(test_size * n)) if test_size > 0 else 0
    if n_test == 0:
        return X, None, y, None, "no test split (--test-size 0): every row was used to fit"
    if n - n_test < 2:
        return X, None, y, None, (
            f"no test split: {n} rows are too few to hold out {test_size:g} of them"
        )
    stratify = None
    kind = "random"
    if task == "classification":
        counts = y.value_counts()
        if counts.min() >= 2 and n_test >= len(counts) and n - n_test >= len(counts):
            stratify, kind = y, "stratified"
        else:
            kind = "random (a class is too rare to stratify)"
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=n_test, stratify=stratify, random_state=seed
    )
    how = (
        f"{kind} test split of {n_test} of {n} rows ({test_size:g}, seed {seed}), "
        f"never seen by the fit; the model was fit on the other {n - n_test} rows"
    )
    return X_train, X_test, y_train, y_test, how


def held_out_scores(model, X_train, y_train, X_test, y_test, *, task, how):
    """Training and test scores of a fitted model, JSON-ready.

    Returns a dict with ``metric`` (``"accuracy"`` or ``"R^2"``), ``split``
    (``how``), ``n_train``, ``n_test``, ``train_score``, ``test_score`` (None
    without a test part) and, for a classifier, ``evaluated_on`` (the rows the
    confusion matrix and per-class scores come from), ``labels``,
    ``confusion_matrix`` (rows: true label, columns: predicted label) and
    ``per_class`` (precision, recall, F1 and support per label).
    """
    import numpy as np
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    has_test = X_test is not None
    scores = {
        "metric": "accuracy" if task == "classification" else "R^2",
        "split": how,
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)) if has_test else 0,
        "train_score": float(model.score(X_train, y_train)),
        "test_score": float(model.score(X_test, y_test)) if has_test else None,
    }
    if task != "classification":
        return scores
    X_eval, y_eval = (X_test, y_test) if has_test else (X_train, y_train)
    labels = list(model.classes_)
    y_true = np.asarray(y_eval)
    y_pred = np.asarray(model.predict(X_eval))
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    scores["evaluated_on"] = "test" if has_test else "training"
    scores["labels"] = [_json_label(label) for label in labels]
    scores["confusion_matrix"] = matrix.tolist()
    scores["per_class"] = [
        {
            "label": _json_label(label),
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(s),
        }
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    ]
    return scores


def _json_label(label):
    """Return a class label as JSON holds it: numbers stay numbers, anything else becomes text."""
    import numbers

    if isinstance(label, numbers.Integral) and not isinstance(label, bool):
        return int(label)
    if isinstance(label, numbers.Real) and not isinstance(label, bool):
        return float(label)
    return str(label)


def score_lines(scores):
    """Return the scores as short lines for a text file or a report paragraph."""
    metric = scores["metric"]
    lines = [f"Training {metric}: {scores['train_score']:.4f} ({scores['n_train']} rows)"]
    if scores["test_score"] is not None:
        lines.append(f"Test {metric}: {scores['test_score']:.4f} ({scores['n_test']} rows)")
    lines.append(f"Split: {scores['split']}.")
    return lines


def add_scores_sections(report, scores):
    """Add a "Scores" section (training and test, per-class table) and a confusion matrix."""
    import pandas as pd

    text = "\n".join(score_lines(scores))
    table = None
    if "per_class" in scores:
        part = scores["evaluated_on"]
        text += (
            f"\n\nPer-class precision (of the rows predicted as the class, the share that is it) "
            f"and recall (of the rows of the class, the share found) on the {part} rows."
        )
        if part == "training":
            text += " They are training scores: there is no test split."
        table = pd.DataFrame(scores["per_class"])
    report.add_section("Scores", text=text, table=table, data=scores)
    if "confusion_matrix" in scores:
        labels = [str(label) for label in scores["labels"]]
        matrix = pd.DataFrame(
            scores["confusion_matrix"],
            index=pd.Index(labels, name="true \\ predicted"),
            columns=labels,
        )
        report.add_section(
            "Confusion matrix",
            text=f"Rows: the true class; columns: the predicted class; "
            f"counts of {scores['evaluated_on']} rows.",
            table=matrix,
        )
