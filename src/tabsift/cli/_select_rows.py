"""``tabsift select-rows``: choose rows of a large pool table (CSV/TSV/Parquet).

Writes to ``--out``: ``selected.<ext>`` (the selected pool rows, in pool order,
same format as the pool, every value as read from the pool, never as
prepared), ``indices.csv`` (their 0-based pool positions, and a weight when
the method has one), ``summary.json`` (settings, the table preparation steps
and what the method reports) and, last, ``job.json`` (with the preparation
steps too). Every file is written atomically. A rerun of a finished job (same
pool and target bytes, same settings) does nothing (``--force`` recomputes);
an interrupted job resumes from the checkpoints its method left in
``--out/.work/`` (data files, checked before use: see
:mod:`tabsift.sampling._dsir_stream`). Like every job, it only replaces or
deletes files tabsift wrote (see :func:`tabsift.cli._io.start_job`): the
checkpoints of another job, or of a forced rerun, are removed file by file,
never the whole folder.

The coreset methods read the pool as it comes: the features are prepared by
:func:`tabsift.table.prepare_table` (numbers stored as text read as numbers,
placeholders such as ``?`` read as missing, row-number, identifier, constant
and empty columns dropped, rows without a ``--label`` value dropped;
``--na-values``, ``--categorical``, ``--drop``, ``--no-prepare``) and the
selectors encode what is left (categories one-hot, missing numbers imputed
with an indicator). ``dsir`` tokenises each column itself; of the
preparation options it takes ``--na-values`` and ``--drop``.

Adding a method
---------------
A method is one entry of ``METHODS``: its ``--method`` name mapped to a
:class:`Method`:

- ``help``: one line for ``--help``;
- ``select(args, pool, target, workdir)`` returns a :class:`Selection`.
  ``args`` is the parsed namespace (shared options and the method's own),
  ``pool`` a :class:`PoolTable` (``pool.read()`` loads it whole;
  ``pool.chunks()`` iterates over it in ``--chunksize`` chunks, bounded
  memory), ``target`` the target table (a DataFrame, or None when
  ``--target`` is not given: only ``dsir`` requires it) and ``workdir`` a folder
  for checkpoints that survives an interruption (its ``fingerprint.txt`` holds
  the job's fingerprint; what the method writes there with
  :func:`tabsift.utils.atomic_write` is deleted after success);
- ``add_arguments(parser)`` (optional) adds the method's own options. Every
  method's options are on the one parser, so names must be unique; start
  their help with the method name, e.g. ``"(kcenter) ..."``.

``Selection.indices`` are 0-based pool row positions (any order; repeated only
when sampling with replacement); ``weights`` (optional) one number per index;
``rows`` (optional) the selected rows in ascending index order when the
method already has them (otherwise the job reads them from the pool);
``summary`` a JSON-ready dict added to ``summary.json``; ``n_pool`` (optional)
the number of pool rows, which every index must be below; ``preparation`` the
steps taken on the table (``{"step", "columns", "detail"}`` records, see
:class:`tabsift.table.PreparedTable`), written to ``summary.json`` and
``job.json``.
"""

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabsift.cli._io import (
    add_prepare_arguments,
    file_digest,
    input_table,
    mark_finished,
    non_negative_int,
    output_folder,
    positive_int,
    read_table,
    remove_job_files,
    start_job,
    write_table,
)
from tabsift.table import TableError
from tabsift.table._errors import quote_names
from tabsift.utils import atomic_write_text


@dataclass(frozen=True)
class Method:
    """One ``--method`` of ``select-rows`` (see the module docstring)."""

    help: str
    select: Callable
    add_arguments: Callable | None = None


@dataclass
class Selection:
    """What a method's ``select`` returns (see the module docstring)."""

    indices: Any
    weights: Any = None
    rows: Any = None
    summary: dict = field(default_factory=dict)
    preparation: list = field(default_factory=list)
    n_pool: int | None = None


class PoolTable:
    """A CSV/TSV/Parquet pool, read whole or in chunks of ``chunksize`` rows."""

    def __init__(self, path, chunksize, na_values=()):
        self.path = Path(path)
        self.chunksize = chunksize
        self.na_values = list(na_values)

    @property
    def is_parquet(self):
        return self.path.suffix.lower() in (".parquet", ".pq")

    def read(self):
        """The whole pool as a DataFrame (:func:`read_table`: errors name the file)."""
        return read_table(self.path, na_values=self.na_values)

    def chunks(self):
        """Iterate over the pool in DataFrames of ``chunksize`` rows (the last may be shorter)."""
        if self.is_parquet:
            import pyarrow.parquet as pq

            with pq.ParquetFile(self.path) as f:
                for batch in f.iter_batches(batch_size=self.chunksize):
                    yield batch.to_pandas()
        else:
            import pandas as pd

            sep = "\t" if self.path.suffix.lower() == ".tsv" else ","
            with pd.read_csv(
                self.path, sep=sep, chunksize=self.chunksize, na_values=self.na_values
            ) as reader:
                yield from reader

    def take(self, indices):
        """Rows at ``indices`` (sorted ascending), read chunk by chunk."""
        import numpy as np
        import pandas as pd

        indices = np.asarray(indices)
        parts, offset = [], 0
        for chunk in self.chunks():
            lo, hi = np.searchsorted(indices, [offset, offset + len(chunk)])
            if hi > lo:
                parts.append(chunk.iloc[indices[lo:hi] - offset])
            offset += len(chunk)
        return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------- dsir
def _dsir_arguments(parser):
    group = parser.add_argument_group("dsir (importance resampling) options")
    group.add_argument(
        "--estimator",
        choices=("generative", "discriminative"),
        default="generative",
        help="(dsir) importance weights from hashed-token distributions or from a "
        "target-vs-pool classifier (default: generative)",
    )
    group.add_argument(
        "--top-k",
        action="store_true",
        help="(dsir) keep the N heaviest rows instead of sampling",
    )
    group.add_argument(
        "--num-buckets", type=positive_int, default=10_000, help="(dsir) default: 10000"
    )
    group.add_argument(
        "--pair-tokens",
        action="store_true",
        help="(dsir) add one token per pair of non-text columns",
    )


def _dsir_select(args, pool, target, workdir):
    from tabsift.sampling import ImportanceResampler
    from tabsift.sampling._dsir_stream import select_streaming, summary_of

    if args.categorical:
        raise ValueError(
            "--categorical does not apply to --method dsir, which tokenises every column "
            "itself (numbers in quantile bins, categories and words as tokens): leave it out."
        )
    preparation = []
    if args.drop:
        _check_pool_columns(args.drop, _pool_columns(pool), "--drop", pool.path.name)
        dropped = [c for c in target.columns if str(c) in args.drop]
        target = target.drop(columns=dropped)
        if target.shape[1] == 0:
            raise TableError(
                f"--drop leaves none of the columns of {args.target.name}; dsir needs at least "
                "one column to compare the pool with."
            )
        preparation.append({"step": "dropped columns (--drop)", "columns": list(args.drop),
                            "detail": "not tokenised"})
    sampler = ImportanceResampler(
        target,
        n_samples=args.n,
        estimator=args.estimator,
        num_buckets=args.num_buckets,
        text_columns=args.text_columns,
        pair_tokens=args.pair_tokens,
        top_k=args.top_k,
        random_state=args.seed,
        verbose=args.verbose,
    )
    result = select_streaming(
        sampler,
        pool.chunks,
        workdir=workdir,
        fingerprint=_work_fingerprint(workdir),
        start_over="Run again with --force to start over.",
        verbose=args.verbose,
    )
    return Selection(
        indices=result.indices,
        weights=result.log_weights,
        rows=result.rows,
        summary=summary_of(result),
        preparation=preparation,
        n_pool=result.n_pool,
    )


def _work_fingerprint(workdir):
    """The fingerprint of the job that owns ``workdir`` (written there by :func:`run`)."""
    return (Path(workdir) / "fingerprint.txt").read_text(encoding="utf-8").strip()


def _pool_columns(pool):
    """The pool's column names, from its header (or Parquet schema) only."""
    if pool.is_parquet:
        import pyarrow.parquet as pq

        return [str(c) for c in pq.read_schema(pool.path).names]
    import pandas as pd

    sep = "\t" if pool.path.suffix.lower() == ".tsv" else ","
    return [str(c) for c in pd.read_csv(pool.path, sep=sep, nrows=0).columns]


def _check_pool_columns(names, columns, option, source):
    unknown = [n for n in names if n not in columns]
    if unknown:
        raise TableError(
            f"{option} names column(s) {quote_names(unknown)} that {source} does not have; its "
            f"columns are: {quote_names(columns, limit=30)}."
        )


# ----------------------------------------------------------------- coresets
def _coreset_arguments(parser):
    group = parser.add_argument_group(
        "coreset options (kcenter, ot, gais, random, llm-choice: the pool is read whole; "
        "the features are --target's columns except --label)"
    )
    group.add_argument(
        "--label", default=None, metavar="COL",
        help="(kcenter, ot, gais, random, llm-choice) the pool's class column; required by "
        "gais, llm-choice and --stratify, optional otherwise",
    )
    group.add_argument(
        "--stratify", choices=("proportional", "balanced"), default=None,
        help="(kcenter, ot, random, llm-choice) per-class budgets (default: none; random "
        "defaults to proportional when --label is given)",
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
        _check_pool_columns(given, columns, option, source)
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
    """The target sample's feature columns prepared as the pool's were (floats or categories)."""
    import pandas as pd

    from tabsift.table import describe_column
    from tabsift.table._types import category_values, numeric_values

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
    from tabsift.table import describe_column
    from tabsift.table._types import category_values, numeric_values

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


def _make_coreset_select(name):
    def select(args, pool, target, workdir):
        import numpy as np

        from tabsift import sampling

        needs_label = name in ("gais", "llm-choice")
        data = _coreset_data(args, pool, target, needs_label)
        X, y = data.X, data.y
        common = {"random_state": args.seed, "verbose": args.verbose}
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
        elif name == "random":
            # Strata are classes: a regression label is not stratified.
            default = "proportional" if data.task == "classification" else None
            selector = sampling.StratifiedRandomSelector(
                n_samples=args.n, stratify=args.stratify or default, **common
            )
        else:
            llm = None
            if args.llm_model is not None or args.llm_base_url is not None:
                from tabsift.llm import LLMClient

                llm = LLMClient(args.llm_model or "gpt-4o-mini", base_url=args.llm_base_url)
            selector = sampling.LLMChoiceSelector(llm, n_samples=args.n, stratify=args.stratify,
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


# One entry per method; see "Adding a method" in the module docstring.
METHODS = {
    "dsir": Method(
        help="importance resampling (DSIR): rows whose hashed-token distribution matches "
        "the target; streams the pool",
        select=_dsir_select,
        add_arguments=_dsir_arguments,
    ),
    "kcenter": Method(
        help="greedy k-center coreset: every pool row close to a selected row (in memory)",
        select=_make_coreset_select("kcenter"),
        add_arguments=_coreset_arguments,
    ),
    "ot": Method(
        help="optimal-transport coreset (GORACS) matched to the target rows (in memory)",
        select=_make_coreset_select("ot"),
    ),
    "gais": Method(
        help="graph attention instance selection (GAIS); needs --label (in memory)",
        select=_make_coreset_select("gais"),
    ),
    "random": Method(
        help="random rows, stratified by --label when given (in memory)",
        select=_make_coreset_select("random"),
    ),
    "llm-choice": Method(
        help="Add-One-In: an LLM (or the offline criterion) picks each next row; needs "
        "--label (in memory)",
        select=_make_coreset_select("llm-choice"),
    ),
}


def _count_or_fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of rows or a fraction in (0, 1), got {text!r}"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive value, got {text!r}")
    if value >= 1:
        if value != int(value):
            raise argparse.ArgumentTypeError(f"a number of rows must be whole, got {text!r}")
        return int(value)
    return value


def _column_list(text):
    if text == "auto":
        return "auto"
    names = [name.strip() for name in text.split(",") if name.strip()]
    return names or None


def add_parser(subparsers):
    """Add the ``select-rows`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "select-rows",
        help="choose the rows of a large pool table that match a target sample",
        description=(
            "Select N rows of a CSV/TSV/Parquet pool with the chosen method and write them, "
            "their pool positions and a summary. The dsir method streams the pool in chunks "
            "(bounded memory) and resumes after an interruption. Rerunning a finished job "
            "with the same inputs and settings does nothing (use --force to recompute)."
        ),
    )
    parser.add_argument(
        "--pool", type=input_table, required=True, help="the pool table (.csv, .tsv, .parquet)"
    )
    parser.add_argument(
        "--target",
        type=input_table,
        default=None,
        help="a sample of the rows wanted; its columns are the features (required by dsir; "
        "for ot, the rows to match; other methods: optional, default every pool column)",
    )
    parser.add_argument(
        "--n",
        type=_count_or_fraction,
        required=True,
        help="rows to select: a count, or a fraction of the pool in (0, 1)",
    )
    parser.add_argument(
        "--out",
        type=output_folder,
        default=Path("tabsift-rows"),
        metavar="DIR",
        help="folder for the results (default: ./tabsift-rows)",
    )
    parser.add_argument(
        "--method",
        choices=tuple(METHODS),
        default="dsir",
        help="; ".join(f"{name}: {m.help}" for name, m in METHODS.items()) + " (default: dsir)",
    )
    parser.add_argument(
        "--chunksize",
        type=positive_int,
        default=100_000,
        help="pool rows read at once (default: 100000)",
    )
    parser.add_argument(
        "--text-columns",
        type=_column_list,
        default="auto",
        metavar="COLS",
        help="comma-separated text columns, or 'auto': non-numeric columns averaging at "
        "least 3 words (default: auto)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="default: 0")
    parser.add_argument("--force", action="store_true", help="recompute a finished job")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="show progress")
    for method in METHODS.values():
        if method.add_arguments is not None:
            method.add_arguments(parser)
    add_prepare_arguments(parser)
    return parser


_NOT_SETTINGS = {"pool", "target", "out", "force", "verbose", "run", "debug", "command"}


def run(args):
    """Run the selection job and return the exit code."""
    import numpy as np
    import pandas as pd

    settings = {key: value for key, value in sorted(vars(args).items()) if key not in _NOT_SETTINGS}
    if args.target is None and args.method == "dsir":
        raise ValueError(
            "select-rows --method dsir needs --target: a sample of the rows wanted."
        )
    settings["target_sha256"] = None if args.target is None else file_digest(args.target)
    fingerprint = start_job("select-rows", settings, args.pool, args.out, force=args.force)
    if fingerprint is None:
        return 0
    out = Path(args.out)

    # Checkpoints belong to one job: another job's (or a forced rerun's) are discarded,
    # file by file; start_job has refused a folder holding checkpoint names it did not write.
    workdir = out / ".work"
    stamp = workdir / "fingerprint.txt"
    if args.force or _stamp_of(stamp) != fingerprint:
        remove_job_files(out, ".work")
    atomic_write_text(stamp, fingerprint)

    target = None if args.target is None else read_table(args.target, na_values=args.na_values)
    pool = PoolTable(args.pool, args.chunksize, na_values=args.na_values)
    selection = METHODS[args.method].select(args, pool, target, workdir)

    indices = _checked_indices(selection, args.method)
    order = np.argsort(indices, kind="stable")
    indices = indices[order]
    rows = selection.rows if selection.rows is not None else pool.take(indices)
    table = pd.DataFrame({"index": indices})
    if selection.weights is not None:
        table["weight"] = np.asarray(selection.weights)[order]

    write_table(rows, out / f"selected{args.pool.suffix.lower()}")
    write_table(table, out / "indices.csv")
    summary = {
        "pool": str(args.pool),
        "target": None if args.target is None else str(args.target),
        "settings": settings,
        "n_selected": int(len(indices)),
        "preparation": selection.preparation,
        **selection.summary,
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=str))
    mark_finished(
        out, fingerprint,
        {"n_selected": int(len(indices)), "preparation": selection.preparation},
    )
    remove_job_files(out, ".work")
    print(f"tabsift select-rows: selected {len(indices)} rows with {args.method}; results in {out}")
    return 0


def _stamp_of(stamp):
    """The fingerprint in ``.work/fingerprint.txt``, or None (missing or unreadable)."""
    try:
        text = stamp.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text


def _checked_indices(selection, method):
    """The selection's indices as int64, checked to be pool positions before any is written."""
    import numpy as np

    indices = np.asarray(selection.indices)
    if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
        raise RuntimeError(
            f"--method {method} returned row indices of dtype {indices.dtype} and shape "
            f"{indices.shape}; expected whole numbers, one per selected row. Nothing was "
            "written; run again with --force to start over."
        )
    n_pool = selection.n_pool
    if indices.size and (indices.min() < 0 or (n_pool is not None and indices.max() >= n_pool)):
        raise RuntimeError(
            f"--method {method} returned row indices from {indices.min()} to {indices.max()}, "
            f"outside the pool's rows 0 to {n_pool - 1 if n_pool is not None else '...'}. "
            "Nothing was written; run again with --force to start over."
        )
    return indices.astype(np.int64)
