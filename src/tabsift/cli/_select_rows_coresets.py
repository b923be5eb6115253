"""``select-rows`` coreset methods: the pool in memory.

The methods are hybrid, kcenter, ot, gais, random and llm-choice.
"""

from dataclasses import dataclass
from typing import Any

from tabsift.cli._arguments import llm_client, non_negative_int, positive_int, progress_level
from tabsift.cli._select_rows_base import Selection, check_pool_columns
from tabsift.table import TableError, quote_names


def add_coreset_arguments(parser):
    """Add the options of the coreset methods to the ``select-rows`` parser."""
    group = parser.add_argument_group(
        "coreset options (hybrid, kcenter, ot, gais, random, llm-choice: the pool is read "
        "whole; "
        "the features are --target's columns except --label)"
    )
    group.add_argument(
        "--label", default=None, metavar="COL",
        help="(all coreset methods) the pool's class column; required by "
        "gais, llm-choice and --stratify, optional otherwise",
    )
    group.add_argument(
        "--stratify", choices=("proportional", "balanced"), default=None,
        help="(hybrid, kcenter, ot, random, llm-choice) per-class budgets (default: none; "
        "hybrid and random default to proportional when --label is given)",
    )
    group.add_argument(
        "--lam", type=float, default=0.05,
        help="(ot) weight of the gradient-norm term in the transport cost (default: 0.05)",
    )
    group.add_argument(
        "--proxy", choices=("auto", "logistic", "linear", "mlp"), default="auto",
        help="(ot) proxy model of the gradient term: logistic or ridge regression by target "
        "(auto), or a small MLP (default: auto)",
    )
    group.add_argument(
        "--max-swaps", type=non_negative_int, default=20,
        help="(ot) most accepted swaps after the greedy build (default: 20)",
    )
    group.add_argument(
        "--graph", choices=("minibatch", "hashing"), default="minibatch",
        help="(gais) how the row graph is built (default: minibatch)",
    )
    group.add_argument(
        "--epochs", type=positive_int, default=100,
        help="(gais) graph attention network training epochs (default: 100)",
    )
    group.add_argument(
        "--llm-model", default=None,
        help="(llm-choice) model name; without it (and --llm-base-url) the offline "
        "diversity/uncertainty criterion chooses",
    )
    group.add_argument(
        "--llm-base-url", default=None, help="(llm-choice) OpenAI-compatible server URL"
    )


# A stand-in target for prepare_table when the pool has no --label (never in a message).
_NO_LABEL = "__tabsift_select_rows_no_label__"


@dataclass
class _CoresetData:
    """The pool as read, its prepared features and labels, and where each row came from."""

    table: Any  # the pool as read: selected rows are written from it
    X: Any  # prepared features (one row per kept pool row)
    y: Any  # prepared labels (zeros without --label)
    positions: Any  # pool position of each row of X
    task: Any  # the label's task, or None without --label
    steps: list  # preparation steps


def _coreset_data(args, pool, target, needs_label):
    import numpy as np

    from tabsift.table import prepare_table

    table = pool.read()
    source = pool.path.name
    columns = [str(c) for c in table.columns]
    label = args.label
    if label is not None and label not in columns:
        raise TableError(
            f"--label {label!r} is not a column of the pool {source}; its columns are: "
            f"{quote_names(columns, limit=30)}."
        )
    if label is None and (needs_label or args.stratify is not None):
        raise ValueError(
            f"--method {args.method} needs the class column: give it with --label COL."
        )
    # The target sample's columns name the features; without one, every pool column does.
    names = columns if target is None else [str(c) for c in target.columns]
    features = [c for c in names if c != label]
    missing = [c for c in features if c not in columns]
    if missing:
        raise TableError(
            f"the pool {source} has no column(s) {quote_names(missing)} that "
            f"{args.target.name} has; give the pool these columns or drop them from the target."
        )
    for option, given in (("--drop", args.drop), ("--categorical", args.categorical)):
        check_pool_columns(given, columns, option, source)
    if label is not None and label in args.drop:
        raise TableError(f"--drop names the --label column {label!r}; leave it out of --drop.")
    if len(table) < 2:
        raise TableError(f"{source} has {len(table)} data row; select-rows needs at least 2.")
    frame = table.rename(columns=str)[features + ([label] if label is not None else [])]
    drop = [c for c in args.drop if c in features]
    if label is None:
        # prepare_table prepares features next to a target: give it a stand-in.
        frame = frame.assign(**{_NO_LABEL: np.arange(len(frame), dtype=np.float64)})
    try:
        prepared = prepare_table(
            frame,
            _NO_LABEL if label is None else label,
            task="regression" if label is None else "auto",
            source=source,
            na_values=args.na_values,
            categorical=[c for c in args.categorical if c in features],
            drop=drop,
            prepare=args.prepare,
            owner=f"tabsift select-rows --method {args.method}",
        )
    except TableError as err:
        # prepare_table speaks of a job's --target; here the class column is --label.
        message = str(err).replace(f" besides {_NO_LABEL!r}", "")
        message = message.replace("target column", "--label column").replace(
            "with --target", "with --label"
        )
        raise TableError(message) from None
    steps = prepared.steps
    if label is None:
        y = np.zeros(len(prepared.X), dtype=np.int64)
        task = None
    else:
        y, task = prepared.y.to_numpy(), prepared.task
        if task == "regression" and (needs_label or args.stratify is not None):
            why = "--stratify" if args.stratify is not None else f"--method {args.method}"
            raise TableError(
                f"{why} needs a class column, but --label {label!r} of {source} holds a "
                f"regression target ({prepared.y.nunique()} distinct numbers); give a column "
                "of class labels"
                + (", or leave out --stratify." if args.stratify is not None else ".")
            )
    positions = table.index.get_indexer(prepared.X.index)
    return _CoresetData(table, prepared.X, y, positions, task, steps)


def _like_pool(data, sample, source):
    """Return the target sample's feature columns prepared as the pool's were (floats or categories)."""
    import pandas as pd

    from tabsift.table import category_values, describe_column, numeric_values

    out = {}
    sample = sample.rename(columns=str)
    for name in data.X.columns:
        values = sample[name]
        if data.X[name].dtype.kind != "f":
            out[name] = category_values(values)
            continue
        info = describe_column(name, values)
        if not info.is_numeric and info.kind != "empty":
            example = next((v for v in values if isinstance(v, str) and v.strip()), None)
            raise TableError(
                f"column {name!r} of {source} holds text such as {example!r} where the pool "
                "holds numbers; give the target sample the pool's kind of values."
            )
        out[name] = (numeric_values(values, info) if info.kind != "empty"
                     else pd.Series(values, dtype="float64").to_numpy())
    return pd.DataFrame(out, index=sample.index)


def _labels_like_pool(data, values):
    """Target-sample labels in the pool's prepared label representation."""
    from tabsift.table import category_values, describe_column, numeric_values

    if data.y.dtype.kind == "f":
        info = describe_column("label", values)
        if info.is_numeric:
            return numeric_values(values, info)
    return category_values(values)


def _coreset_result(selector, data, summary):
    import numpy as np

    weights = getattr(selector, "sample_weight_", None)
    indices = data.positions[np.asarray(selector.sample_indices_)]
    order = np.argsort(indices, kind="stable")
    rows = data.table.iloc[indices[order]].reset_index(drop=True)
    return Selection(indices=indices, weights=weights, rows=rows, summary=summary,
                     preparation=data.steps, n_pool=len(data.table))


def make_coreset_select(name):
    """Return the ``select`` function of the coreset method ``name`` (its ``--method``)."""

    def select(args, pool, target, workdir):
        import numpy as np

        from tabsift import sampling

        needs_label = name in ("gais", "llm-choice")
        data = _coreset_data(args, pool, target, needs_label)
        X, y = data.X, data.y
        common = {"random_state": args.seed, "verbose": progress_level(args)}
        if name == "kcenter":
            selector = sampling.KCenterSelector(n_samples=args.n, stratify=args.stratify, **common)
        elif name == "ot":
            # The target sample is the validation set the selection is matched to; without
            # one, the selector holds out its own validation rows of the pool.
            validation = 1000
            if target is not None:
                X_val = _like_pool(data, target, args.target.name)
                y_val = (_labels_like_pool(data, target[args.label])
                         if args.label in target.columns
                         else np.zeros(len(target), dtype=np.int64))
                validation = (X_val, y_val)
            selector = sampling.OTCoresetSelector(
                n_samples=args.n, stratify=args.stratify, lam=args.lam, proxy=args.proxy,
                validation=validation, max_swaps=args.max_swaps, **common,
            )
        elif name == "gais":
            keep = args.n if isinstance(args.n, float) else args.n / len(X)
            if not 0 < keep < 1:
                raise ValueError(
                    f"--n must leave some rows out for gais; got {args.n} of {len(X)} rows."
                )
            selector = sampling.GraphAttentionSelector(
                reduction=1.0 - keep, graph=args.graph, epochs=args.epochs, **common
            )
        elif name == "hybrid":
            # Strata are classes: a regression label is not stratified.
            default = "proportional" if data.task == "classification" else None
            selector = sampling.HybridCoresetSelector(
                n_samples=args.n, stratify=args.stratify or default, **common
            )
        elif name == "random":
            # Strata are classes: a regression label is not stratified.
            default = "proportional" if data.task == "classification" else None
            selector = sampling.StratifiedRandomSelector(
                n_samples=args.n, stratify=args.stratify or default, **common
            )
        else:
            selector = sampling.LLMChoiceSelector(llm_client(args), n_samples=args.n, stratify=args.stratify,
                                                  **common)
        selector.fit(X, y)
        summary = {"features": [str(c) for c in X.columns], "label": args.label,
                   "task": data.task}
        for attr in ("radius_", "objective_", "n_swaps_", "n_llm_choices_", "n_fallbacks_"):
            if hasattr(selector, attr):
                summary[attr.rstrip("_")] = getattr(selector, attr)
        if hasattr(selector, "llm_report_"):
            summary["llm_report"] = selector.llm_report_.to_dict()
        return _coreset_result(selector, data, summary)

    return select

