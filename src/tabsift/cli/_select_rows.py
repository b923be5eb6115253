"""``tabsift select-rows``: choose rows of a large pool table (CSV/TSV/Parquet).

Writes to ``--out``: ``selected.<ext>`` (the selected pool rows, in pool order,
same format as the pool), ``indices.csv`` (their 0-based pool positions, and a
weight when the method has one), ``summary.json`` (settings and what the
method reports) and, last, ``job.json``. Every file is written atomically. A
rerun of a finished job (same pool and target bytes, same settings) does
nothing (``--force`` recomputes); an interrupted job resumes from the
checkpoints its method left in ``--out/.work/``.

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
  for checkpoints that survives an interruption (deleted after success);
- ``add_arguments(parser)`` (optional) adds the method's own options. Every
  method's options are on the one parser, so names must be unique; start
  their help with the method name, e.g. ``"(kcenter) ..."``.

``Selection.indices`` are 0-based pool row positions (any order; repeated only
when sampling with replacement); ``weights`` (optional) one number per index;
``rows`` (optional) the selected rows in ascending index order when the
method already has them (otherwise the job reads them from the pool);
``summary`` a JSON-ready dict added to ``summary.json``.
"""

import argparse
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabsift.cli._io import (
    file_digest,
    input_table,
    mark_finished,
    non_negative_int,
    output_folder,
    positive_int,
    read_table,
    start_job,
    write_table,
)
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


class PoolTable:
    """A CSV/TSV/Parquet pool, read whole or in chunks of ``chunksize`` rows."""

    def __init__(self, path, chunksize):
        self.path = Path(path)
        self.chunksize = chunksize

    @property
    def is_parquet(self):
        return self.path.suffix.lower() in (".parquet", ".pq")

    def read(self):
        """The whole pool as a DataFrame."""
        return read_table(self.path)

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
            with pd.read_csv(self.path, sep=sep, chunksize=self.chunksize) as reader:
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
    result = select_streaming(sampler, pool.chunks, workdir=workdir, verbose=args.verbose)
    return Selection(
        indices=result.indices,
        weights=result.log_weights,
        rows=result.rows,
        summary=summary_of(result),
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


def _coreset_data(args, pool, target, needs_label):
    import numpy as np

    table = pool.read()
    label = args.label
    if label is not None and label not in table.columns:
        raise ValueError(f"--label {label!r} is not a column of the pool {pool.path.name}.")
    if label is None and (needs_label or args.stratify is not None):
        raise ValueError(
            f"--method {args.method} needs the class column: give it with --label COL."
        )
    # The target sample's columns name the features; without one, every pool column does.
    columns = table.columns if target is None else target.columns
    features = [c for c in columns if c != label]
    missing = [c for c in features if c not in table.columns]
    if missing:
        raise ValueError(f"the pool has no column(s) {missing!r} that --target has.")
    non_numeric = [c for c in features if not np.issubdtype(table[c].dtype, np.number)]
    if non_numeric:
        raise ValueError(
            f"--method {args.method} needs numeric features; column(s) {non_numeric!r} are "
            "not: encode or drop them first."
        )
    X = table[features]
    y = table[label] if label is not None else np.zeros(len(table), dtype=np.int64)
    return table, X, y, features


def _coreset_result(selector, table, summary):
    import numpy as np

    weights = getattr(selector, "sample_weight_", None)
    indices = np.asarray(selector.sample_indices_)
    order = np.argsort(indices, kind="stable")
    rows = table.iloc[indices[order]].reset_index(drop=True)
    return Selection(indices=indices, weights=weights, rows=rows, summary=summary)


def _make_coreset_select(name):
    def select(args, pool, target, workdir):
        import numpy as np

        from tabsift import sampling

        needs_label = name in ("gais", "llm-choice")
        table, X, y, features = _coreset_data(args, pool, target, needs_label)
        common = {"random_state": args.seed, "verbose": args.verbose}
        if name == "kcenter":
            selector = sampling.KCenterSelector(n_samples=args.n, stratify=args.stratify, **common)
        elif name == "ot":
            # The target sample is the validation set the selection is matched to; without
            # one, the selector holds out its own validation rows of the pool.
            validation = 1000
            if target is not None:
                X_val = target[features].to_numpy(dtype=float)
                y_val = (target[args.label].to_numpy() if args.label in target.columns
                         else np.zeros(len(target), dtype=np.int64))
                validation = (X_val, y_val)
            selector = sampling.OTCoresetSelector(
                n_samples=args.n, stratify=args.stratify, lam=args.lam, proxy=args.proxy,
                validation=validation, max_swaps=args.max_swaps, **common,
            )
        elif name == "gais":
            keep = args.n if isinstance(args.n, float) else args.n / len(table)
            if not 0 < keep < 1:
                raise ValueError(f"--n must leave some rows out for gais; got {args.n}.")
            selector = sampling.GraphAttentionSelector(
                reduction=1.0 - keep, graph=args.graph, epochs=args.epochs, **common
            )
        elif name == "random":
            stratify = args.stratify or ("proportional" if args.label else None)
            selector = sampling.StratifiedRandomSelector(n_samples=args.n, stratify=stratify,
                                                         **common)
        else:
            llm = None
            if args.llm_model is not None or args.llm_base_url is not None:
                from tabsift.llm import LLMClient

                llm = LLMClient(args.llm_model or "gpt-4o-mini", base_url=args.llm_base_url)
            selector = sampling.LLMChoiceSelector(llm, n_samples=args.n, stratify=args.stratify,
                                                  **common)
        selector.fit(X, y)
        summary = {"features": features, "label": args.label}
        for attr in ("radius_", "objective_", "n_swaps_", "n_llm_choices_", "n_fallbacks_"):
            if hasattr(selector, attr):
                summary[attr.rstrip("_")] = getattr(selector, attr)
        return _coreset_result(selector, table, summary)

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
    out.mkdir(parents=True, exist_ok=True)

    # Checkpoints belong to one job: another job's (or a forced rerun's) are discarded.
    workdir = out / ".work"
    stamp = workdir / "fingerprint.txt"
    if workdir.exists() and (
        args.force or not stamp.exists() or stamp.read_text().strip() != fingerprint
    ):
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(stamp, fingerprint)

    target = None if args.target is None else read_table(args.target)
    if target is not None and len(target) == 0:
        raise ValueError(f"the target table {args.target.name} has no rows; give a sample.")
    pool = PoolTable(args.pool, args.chunksize)
    selection = METHODS[args.method].select(args, pool, target, workdir)

    indices = np.asarray(selection.indices, dtype=np.int64)
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
        **selection.summary,
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=str))
    mark_finished(out, fingerprint, {"n_selected": int(len(indices))})
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"tabsift select-rows: selected {len(indices)} rows with {args.method}; results in {out}")
    return 0
