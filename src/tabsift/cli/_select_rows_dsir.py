"""``select-rows --method dsir``: importance resampling, streamed over the pool in chunks."""

from pathlib import Path

from tabsift.cli._arguments import positive_int, progress_level
from tabsift.cli._select_rows_base import Selection, check_pool_columns
from tabsift.table import TableError


def add_dsir_arguments(parser):
    """Add the options of ``--method dsir`` to the ``select-rows`` parser."""
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
    group.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        metavar="N",
        help="(dsir) worker processes that tokenise and score the pool's chunks; the "
        "selection is the same for any N (default: every core)",
    )


def dsir_select(args, pool, target, workdir):
    """Select rows with an :class:`~tabsift.sampling.ImportanceResampler`, streaming the pool."""
    from tabsift.sampling import ImportanceResampler
    from tabsift.sampling._dsir_stream import select_streaming, summary_of

    if args.categorical:
        raise ValueError(
            "--categorical does not apply to --method dsir, which tokenises every column "
            "itself (numbers in quantile bins, categories and words as tokens): leave it out."
        )
    preparation = []
    if args.drop:
        check_pool_columns(args.drop, pool.columns(), "--drop", pool.path.name)
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
        n_jobs=-1 if args.workers is None else args.workers,
        random_state=args.seed,
        verbose=progress_level(args),
    )
    result = select_streaming(
        sampler,
        pool.chunks,
        workdir=workdir,
        fingerprint=_work_fingerprint(workdir),
        start_over="Run again with --force to start over.",
        verbose=progress_level(args),
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
    """Return the fingerprint of the job that owns ``workdir`` (written there by :func:`tabsift.cli._select_rows.run`)."""
    return (Path(workdir) / "fingerprint.txt").read_text(encoding="utf-8").strip()

