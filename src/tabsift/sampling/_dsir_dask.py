"""Importance resampling of a Dask DataFrame pool, partition by partition.

The same three steps as the streaming job, each one Dask computation over the
partitions: the partition lengths (global row offsets), the fit sample
(per-partition bottom-k of the index hashes, merged), then per partition the
log weights, their Gumbel keys (a function of the global row index) and the
partition's own top ``n_samples``, merged into the exact global top
``n_samples``. The fitted model travels to the workers pickled; only the
sample, the per-partition winners and the log weights come back.
"""

from contextlib import contextmanager

import numpy as np

from tabsift.sampling._dsir_core import bottom_k, gumbel_noise, sample_ranks, top_keys
from tabsift.utils import import_optional_dependency


@contextmanager
def _scheduler(address, n_workers=None):
    """Return the ``scheduler=`` argument of ``dask.compute`` for ``dask_client``."""
    if address is None:
        yield None  # Dask's current scheduler: an active Client, else local threads
        return
    distributed = import_optional_dependency("distributed")
    if address == "local":
        # Worker processes, one thread each: tokenising holds the GIL in parts.
        cluster = distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = distributed.Client(cluster, set_as_default=False)
    else:
        cluster = None
        client = distributed.Client(address, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _columns(ddf):
    return [str(c) for c in ddf.columns]


def _partition_sample(part, offset, k, columns):
    part = part.rename(columns=str)
    n = len(part)
    ranks = sample_ranks(offset, offset + n)
    index = np.arange(offset, offset + n)
    keep = bottom_k(ranks, index, k)
    return ranks[keep], index[keep], part.iloc[keep][columns].reset_index(drop=True)


def _partition_scores(part, offset, model, seed, top_k, k, keep_all):
    frame = part.rename(columns=str)[model.columns]
    n = len(frame)
    log_w = model.log_weights(frame)
    keys = log_w if top_k else log_w + gumbel_noise(seed, offset, offset + n)
    index = np.arange(offset, offset + n)
    best = top_keys(keys, index, k)
    return keys[best], index[best], log_w if keep_all else None


def _partition_rows(part, offset, indices):
    lo, hi = np.searchsorted(indices, [offset, offset + len(part)])
    return part.iloc[indices[lo:hi] - offset]


def fit_dask(sampler, ddf):
    """Fit ``sampler`` on the Dask DataFrame ``ddf``; return the selected rows (pandas)."""
    import pandas as pd

    dask = import_optional_dependency("dask")
    sampler._validate_params()
    columns = _columns(ddf)
    sampler.n_features_in_ = len(columns)
    if all(isinstance(c, str) for c in ddf.columns):
        sampler.feature_names_in_ = np.asarray(columns, dtype=object)
    elif hasattr(sampler, "feature_names_in_"):
        del sampler.feature_names_in_
    empty = ddf._meta.rename(columns=str)
    target = sampler._target_frame(empty)
    feature_columns = list(target.columns)

    parts = ddf.to_delayed()
    n_workers = None if sampler.n_jobs is None else sampler._n_jobs()
    with _scheduler(sampler.dask_client, n_workers) as scheduler:
        lengths = dask.compute(*[dask.delayed(len)(p) for p in parts], scheduler=scheduler)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        n = int(offsets[-1])
        if n == 0:
            raise ValueError(
                "The pool X is empty (0 rows); ImportanceResampler needs rows to select from."
            )
        k_fit = n if sampler.fit_sample_size is None else sampler.fit_sample_size
        pieces = dask.compute(
            *[
                dask.delayed(_partition_sample)(p, int(off), k_fit, feature_columns)
                for p, off in zip(parts, offsets[:-1], strict=True)
            ],
            scheduler=scheduler,
        )
        ranks = np.concatenate([r for r, _, _ in pieces])
        index = np.concatenate([i for _, i, _ in pieces])
        rows = pd.concat([f for _, _, f in pieces], ignore_index=True)
        chosen = bottom_k(ranks, index, k_fit)
        sample = rows.iloc[chosen].reset_index(drop=True)
        model = sampler._fit_model(sample, target)

        k = sampler._n_to_select(n)
        # Sampling with replacement needs every weight; so does log_importance_weights_.
        scored = dask.compute(
            *[
                dask.delayed(_partition_scores)(
                    p, int(off), model, sampler._seed, sampler.top_k, k, True
                )
                for p, off in zip(parts, offsets[:-1], strict=True)
            ],
            scheduler=scheduler,
        )
        sampler.log_importance_weights_ = np.concatenate([w for _, _, w in scored])
        if sampler.replacement:
            selected = sampler._select(sampler.log_importance_weights_)
        else:
            keys = np.concatenate([s for s, _, _ in scored])
            index = np.concatenate([i for _, i, _ in scored])
            selected = np.sort(index[top_keys(keys, index, k)])
        sampler.sample_indices_ = selected
        unique = np.unique(selected)
        picked = dask.compute(
            *[
                dask.delayed(_partition_rows)(p, int(off), unique)
                for p, off in zip(parts, offsets[:-1], strict=True)
            ],
            scheduler=scheduler,
        )
    rows = pd.concat(picked)
    # Repeats (sampling with replacement) are taken again from the unique rows.
    rows = rows.iloc[np.searchsorted(unique, selected)]
    sampler._finish(model.bucket_counts(rows.rename(columns=str)))
    return rows


def score_dask(sampler, ddf):
    """Log importance weights of a Dask DataFrame's rows, as a lazy Dask Series."""
    import pandas as pd

    model = sampler.model_

    def score(part):
        frame = part.rename(columns=str)[model.columns]
        return pd.Series(model.log_weights(frame), index=part.index, dtype="float64")

    return ddf.map_partitions(score, meta=pd.Series(dtype="float64"))
