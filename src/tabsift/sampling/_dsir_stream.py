"""Importance resampling of a pool read chunk by chunk (bounded memory, resumable).

Three passes over the chunks, each holding one chunk at a time:

1. the fit sample: a running bottom-k of the rows' index hashes (the same
   sample the in-memory path takes), and the number of rows;
2. the scores: each chunk's log weights plus Gumbel noise (a function of the
   global row index) feed a running top-k of ``n_samples`` keys; with
   ``n_jobs > 1`` the chunks are scored in worker processes (a few in flight)
   and taken in pool order, so the selection does not depend on ``n_jobs``;
3. the selected rows themselves.

So memory is one chunk plus the fit sample plus ``O(n_samples)``, and the
selection equals ``ImportanceResampler.fit`` on the whole pool. With a
``workdir``, the fitted model is saved after pass 1 and the running top-k
after every chunk of pass 2 (atomically): a run that is interrupted resumes
from the last finished chunk. The checkpoints are described in :mod:`tabsift.sampling._dsir_checkpoint`.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tabsift.sampling._dsir_checkpoint import Checkpoints
from tabsift.sampling._dsir_core import bottom_k, gumbel_noise, sample_ranks, top_keys
from tabsift.sampling._dsir_model import map_in_processes
from tabsift.utils import progress


@dataclass
class StreamResult:
    """What :func:`select_streaming` returns."""

    indices: np.ndarray  # ascending pool positions of the selected rows
    log_weights: np.ndarray  # their log importance weights
    rows: object  # DataFrame of the selected rows, in pool order
    n_pool: int
    resampler: object  # the fitted ImportanceResampler


def _after_chunk(number):
    """Run after each scored chunk is checkpointed (tests interrupt the job here)."""


def _fit_sample(open_chunks, k, feature_columns, verbose):
    import pandas as pd

    ranks = np.empty(0, dtype=np.uint64)
    index = np.empty(0, dtype=np.int64)
    frames = []
    offset = n_chunks = 0
    with progress(verbose=verbose, desc="pass 1/3: fit sample", unit="rows") as bar:
        for chunk in open_chunks():
            n_chunks += 1
            if offset == 0:
                _check_columns(chunk, feature_columns)
            n = len(chunk)
            chunk_ranks = sample_ranks(offset, offset + n)
            if len(ranks) >= k:
                # Only rows that beat the current k-th smallest rank can enter.
                worst = np.sort(ranks)[k - 1]
                keep = np.flatnonzero(chunk_ranks < worst)
            else:
                keep = np.arange(n)
            if keep.size:
                ranks = np.concatenate([ranks, chunk_ranks[keep]])
                index = np.concatenate([index, offset + keep])
                frames.append(chunk.iloc[keep][feature_columns])
                sample = pd.concat(frames, ignore_index=True)
                chosen = bottom_k(ranks, index, k)
                ranks, index = ranks[chosen], index[chosen]
                frames = [sample.iloc[chosen].reset_index(drop=True)]
            offset += n
            bar.update(n)
    sample = frames[0] if frames else None
    return sample, offset, n_chunks


def _scoring_items(open_chunks, columns, done):
    """Return ``(number, rows, frame)`` of every chunk; ``frame`` is None for chunks already scored."""
    for number, chunk in enumerate(open_chunks()):
        if number == 0:
            _check_columns(chunk, columns)
        frame = chunk.rename(columns=str)[columns] if number >= done else None
        yield number, len(chunk), frame


def _score_item(item, model):
    """Return ``(number, rows, log weights or None)`` of one chunk (run in a worker process)."""
    number, n, frame = item
    return number, n, None if frame is None else model.log_weights(frame)


def _check_columns(chunk, feature_columns):
    names = [str(c) for c in chunk.columns]
    missing = [c for c in feature_columns if c not in names]
    if missing:
        raise ValueError(
            f"target columns {', '.join(map(repr, missing))} are not in the pool (its columns: "
            f"{', '.join(map(repr, names))}). Give the pool these columns or drop them from "
            "the target."
        )


def select_streaming(
    resampler, open_chunks, *, workdir=None, fingerprint=None, start_over=None, verbose=0
):
    """Run ``resampler`` (an unfitted ImportanceResampler) over a pool read in chunks.

    Parameters
    ----------
    resampler : ImportanceResampler
        Its ``target`` must be a DataFrame (or sequence of texts for a one-column pool);
        ``replacement=True`` is not supported here.
    open_chunks : callable
        ``open_chunks()`` returns a fresh iterator over the pool's chunks
        (DataFrames), always in the same order and with the same sizes.
    workdir : path or None
        Folder for checkpoints; a run finds and continues the checkpoints of an
        interrupted run with the same settings (the caller keys the folder).
    fingerprint : str or None
        The caller's key of the job (its inputs and settings), written into the
        checkpoints; a checkpoint with another one is refused.
    start_over : str or None
        How to start over, added to the message of a refused checkpoint
        (default: delete ``workdir``).
    verbose : int

    Returns
    -------
    StreamResult

    Raises
    ------
    StreamStateError
        A checkpoint in ``workdir`` is damaged, inconsistent with the pool, or
        was written by another run or in an older format.
    """
    if resampler.replacement:
        raise ValueError(
            "replacement=True is not supported when the pool is streamed; sample without "
            "replacement or load the pool in memory."
        )
    resampler._validate_params()
    workdir = None if workdir is None else Path(workdir)
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    state = Checkpoints(workdir, fingerprint, start_over)

    if workdir is not None and (workdir / "model.pkl").exists():
        raise state.error(
            workdir / "model.pkl",
            "is in the pickle format of an older tabsift; it is never loaded, "
            "since loading a pickle can run any code",
            damaged=False,
        )
    n_pool, n_chunks = _fitted_model(resampler, open_chunks, state, verbose)
    k = resampler._n_to_select(n_pool)
    index, weights = _scores_pass(resampler, open_chunks, state, n_pool, n_chunks, k, verbose)
    rows = _selected_rows(open_chunks, index, n_pool, verbose)
    resampler.sample_indices_ = index
    resampler._finish(resampler.model_.bucket_counts(rows.rename(columns=str)))
    return StreamResult(
        indices=index, log_weights=weights, rows=rows, n_pool=n_pool, resampler=resampler
    )


def _fitted_model(resampler, open_chunks, state, verbose):
    """Pass 1 (or its checkpoint): fit ``resampler`` on the fit sample; ``(n_pool, n_chunks)``."""
    if state.has_model():
        return state.load_model(resampler)
    target = resampler.target
    if hasattr(target, "columns"):
        feature_columns = [str(c) for c in target.columns]
    else:
        feature_columns = None  # texts: the pool's single column
    if feature_columns is None:
        first = next(iter(open_chunks()), None)
        feature_columns = [] if first is None else [str(first.columns[0])]
    k_fit = resampler.fit_sample_size or np.iinfo(np.int64).max
    sample, n_pool, n_chunks = _fit_sample(open_chunks, k_fit, feature_columns, verbose)
    if not n_pool:
        raise ValueError("The pool is empty (0 rows); there is nothing to select from.")
    sample = sample.rename(columns=str)
    resampler._pool_frame(sample, reset=True)
    target_frame = resampler._target_frame(sample)
    resampler._fit_model(sample, target_frame)
    if state.model_file is not None:
        state.save_model(resampler, n_pool, n_chunks)
    return n_pool, n_chunks


def _scores_pass(resampler, open_chunks, state, n_pool, n_chunks, k, verbose):
    """Pass 2: the running top-k of the keys, resumed from its checkpoint; ``(index, weights)``.

    Both are in ascending pool order.
    """
    model = resampler.model_
    keys = np.empty(0)
    index = np.empty(0, dtype=np.int64)
    weights = np.empty(0)
    done = rows_done = 0
    if state.has_scores():
        keys, index, weights, done, rows_done = state.load_scores(
            n_pool=n_pool, n_chunks=n_chunks, k=k, top_k=resampler.top_k
        )

    offset = chunks_seen = 0
    scored = map_in_processes(
        _score_item, _scoring_items(open_chunks, model.columns, done), resampler._n_jobs(), model
    )
    with progress(
        total=n_pool, verbose=verbose, desc="pass 2/3: importance weights", unit="rows"
    ) as bar:
        for number, n, log_w in scored:
            chunks_seen += 1
            if number == done and offset != rows_done:
                raise state.error(
                    state.scores_file,
                    f"says {rows_done} rows were scored in {done} chunks, but the first "
                    f"{done} chunks of the pool hold {offset} rows",
                )
            if log_w is not None:
                chunk_keys = log_w
                if not resampler.top_k:
                    chunk_keys = log_w + gumbel_noise(resampler._seed, offset, offset + n)
                keys = np.concatenate([keys, chunk_keys])
                index = np.concatenate([index, np.arange(offset, offset + n)])
                weights = np.concatenate([weights, log_w])
                best = top_keys(keys, index, k)
                keys, index, weights = keys[best], index[best], weights[best]
                state.save_scores(keys, index, weights, number + 1, offset + n)
                _after_chunk(number)
            offset += n
            bar.update(n)
    if chunks_seen != n_chunks or offset != n_pool:
        raise state.error(
            state.model_file,
            f"was written for a pool of {n_pool} rows in {n_chunks} chunks, but the pool "
            f"has {offset} rows in {chunks_seen} chunks",
        )

    order = np.argsort(index, kind="stable")
    return index[order], weights[order]


def _selected_rows(open_chunks, index, n_pool, verbose):
    """Pass 3: the rows at the (ascending) pool positions ``index``, in one DataFrame."""
    import pandas as pd

    parts = []
    offset = 0
    with progress(
        total=n_pool, verbose=verbose, desc="pass 3/3: selected rows", unit="rows"
    ) as bar:
        for chunk in open_chunks():
            n = len(chunk)
            lo, hi = np.searchsorted(index, [offset, offset + n])
            if hi > lo:
                parts.append(chunk.iloc[index[lo:hi] - offset])
            offset += n
            bar.update(n)
    return pd.concat(parts, ignore_index=True) if parts else None


# ----------------------------------------------------------------- checkpoints
def summary_of(result):
    """JSON-ready summary of a streamed selection."""
    sampler = result.resampler
    return json.loads(
        json.dumps(
            {
                "n_pool": result.n_pool,
                "n_selected": len(result.indices),
                "kl_target_pool": sampler.kl_target_pool_,
                "kl_target_selected": sampler.kl_target_selected_,
                "kl_reduction": sampler.kl_reduction_,
                "column_kinds": sampler.column_kinds_,
            }
        )
    )
