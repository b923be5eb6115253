"""DSIR on a large table: ``tabsift select-rows`` streaming a Parquet pool.

Data (generated here, chunk by chunk, straight to Parquet): four domains that differ in
the centre and spread of six numeric columns and in the distribution of a categorical
``channel`` column; a label ``y`` follows a different hyperplane in every domain (5 %
flipped). The pool mixes the domains (the target domain is ~10 % of it); the target
sample is ``--n-target`` unlabelled rows of one domain; a separate labelled test set of
that domain measures downstream accuracy.

The selection runs as a child process, ``python -m tabsift.cli select-rows --pool
pool.parquet --target target.csv --n N --chunksize C`` (the job a user runs), so its
peak resident memory is measured alone (``getrusage(RUSAGE_CHILDREN).ru_maxrss``).
Reported: wall time, pool rows/s over the whole job (three passes over the file), peak
memory, the KL reduction, the share of selected rows from the target domain, and the
accuracy on the target domain of a logistic regression (numeric columns + one-hot
channel) trained on the DSIR selection vs on the same number of random pool rows.

Run: python benchmarks/bench_dsir_tabular.py [--n-rows 1000000 10000000] [--n-select 20000]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import machine, markdown_table

DOMAINS = ("retail", "finance", "health", "sports")
CHANNELS = ("web", "app", "store", "phone", "partner")
N_NUMERIC = 6


def domain_specs(seed=0):
    rng = np.random.RandomState(seed)
    return {
        d: {
            "mean": rng.normal(0, 1.0, N_NUMERIC),
            "scale": rng.uniform(0.8, 1.2, N_NUMERIC),
            "channel_p": rng.dirichlet(np.full(len(CHANNELS), 0.8)),
            "rule": rng.normal(size=N_NUMERIC),
        }
        for d in DOMAINS
    }


def sample_rows(rng, specs, domains):
    """Rows for the given domain names (an array), with labels."""
    n = len(domains)
    codes = pd.Index(DOMAINS).get_indexer(domains)
    mean = np.stack([specs[d]["mean"] for d in DOMAINS])[codes]
    scale = np.stack([specs[d]["scale"] for d in DOMAINS])[codes]
    X = mean + scale * rng.standard_normal((n, N_NUMERIC))
    cum = np.cumsum(np.stack([specs[d]["channel_p"] for d in DOMAINS]), axis=1)[codes]
    channel = (rng.uniform(size=(n, 1)) > cum).sum(axis=1).clip(0, len(CHANNELS) - 1)
    rule = np.stack([specs[d]["rule"] for d in DOMAINS])[codes]
    y = (((X - mean) * rule).sum(axis=1) > 0) ^ (rng.uniform(size=n) < 0.05)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(N_NUMERIC)])
    frame["channel"] = np.array(CHANNELS, dtype=object)[channel]
    frame["y"] = y.astype(np.int8)
    return frame


def write_pool(path, n_rows, specs, target_domain, seed, chunk=500_000):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.RandomState(seed)
    p = np.array([0.10 if d == target_domain else 0.30 for d in DOMAINS])
    domain_of_row = []
    writer = None
    for start in range(0, n_rows, chunk):
        n = min(chunk, n_rows - start)
        domains = np.array(DOMAINS)[rng.choice(len(DOMAINS), size=n, p=p)]
        table = pa.Table.from_pandas(sample_rows(rng, specs, domains), preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
        domain_of_row.append(domains == target_domain)
    writer.close()
    return np.concatenate(domain_of_row)


def downstream_accuracy(train, test):
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    numeric = [f"x{i}" for i in range(N_NUMERIC)]
    model = make_pipeline(
        make_column_transformer(
            ("passthrough", numeric), (OneHotEncoder(handle_unknown="ignore"), ["channel"])
        ),
        LogisticRegression(max_iter=1000),
    )
    model.fit(train[numeric + ["channel"]], train["y"])
    return model.score(test[numeric + ["channel"]], test["y"])


def run_one(n_rows, args, folder):
    specs = domain_specs(args.seed)
    target_domain = "finance"
    rng = np.random.RandomState(args.seed + 1)
    pool_path = folder / f"pool_{n_rows}.parquet"
    t = time.perf_counter()
    in_target = write_pool(pool_path, n_rows, specs, target_domain, args.seed + 2)
    generate_s = time.perf_counter() - t
    target = sample_rows(rng, specs, np.array([target_domain] * args.n_target))
    target.drop(columns="y").to_csv(folder / "target.csv", index=False)
    test = sample_rows(rng, specs, np.array([target_domain] * 5000))

    out = folder / f"out_{n_rows}"
    command = [
        sys.executable, "-m", "tabsift.cli", "select-rows",
        "--pool", str(pool_path), "--target", str(folder / "target.csv"),
        "--n", str(args.n_select), "--chunksize", str(args.chunksize),
        "--seed", str(args.seed), "--out", str(out),
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    select_s = time.perf_counter() - t
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kib <= before:
        peak_kib = float("nan")  # an earlier child was larger: not measurable here

    selected = pd.read_parquet(out / "selected.parquet")
    indices = pd.read_csv(out / "indices.csv")["index"].to_numpy()
    summary = json.loads((out / "summary.json").read_text())
    import pyarrow.parquet as pq

    random_index = np.sort(rng.choice(n_rows, size=args.n_select, replace=False))
    random_rows = pq.read_table(pool_path).to_pandas().iloc[random_index]
    return {
        "pool rows": f"{n_rows:,}",
        "generate s": f"{generate_s:.0f}",
        "select-rows s": f"{select_s:.1f}",
        "rows/s": f"{n_rows / select_s:,.0f}",
        "peak RSS MiB": f"{peak_kib / 1024:,.0f}",
        "KL reduction": f"{summary['kl_reduction']:.3f}",
        "target-domain share": f"{in_target[indices].mean():.1%} (pool {in_target.mean():.1%})",
        "accuracy DSIR": f"{downstream_accuracy(selected, test):.3f}",
        "accuracy random": f"{downstream_accuracy(random_rows, test):.3f}",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--n-select", type=int, default=20_000)
    parser.add_argument("--n-target", type=int, default=2_000)
    parser.add_argument("--chunksize", type=int, default=250_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # Smallest first: ru_maxrss of the children is a running maximum, so each
        # larger job's peak shows only if it exceeds the earlier ones.
        for n_rows in sorted(args.n_rows):
            rows.append(run_one(n_rows, args, Path(tmp)))
            print(rows[-1], flush=True)
    print(f"\n{machine()}; select {args.n_select} rows, chunks of {args.chunksize}\n")
    print(markdown_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
