"""DSIR on text: tabsift's ImportanceResampler against the ``data-selection`` package.

Corpus, built offline from documentation installed on this machine: the .txt/.md/.rst
files and the .py docstrings under the virtual environment's site-packages and
/usr/share/doc, split into paragraphs (blank-line separated, 20 to 400 words). Each
paragraph's *group* is the top-level folder it came from (a package name, or "doc").
The target sample is ``--n-target`` paragraphs from the ``--target-group`` packages; the
pool is ``--n-pool`` paragraphs drawn from everything else and from the target groups'
remaining paragraphs (so it holds some target-like text).

Both run in this process on one core (``num_proc=1`` for the package; tabsift is
single-threaded) with the paper's features (word-punct tokens, unigrams + bigrams,
10,000 buckets) and select ``--n-select`` paragraphs by Gumbel top-k:

- data-selection: ``HashedNgramDSIR(min_example_length=0)`` (it would drop short
  paragraphs otherwise), ``fit_importance_estimator()``, ``compute_importance_weights()``,
  ``resample()``, reading and writing jsonl in a temporary folder (its only interface);
- tabsift: ``ImportanceResampler(target, n_samples).fit(pool)``; the pool is read from
  the same jsonl file and the selection written to jsonl, inside the timed region.

Weights-only throughput: the package's ``compute_importance_weights()`` vs tabsift's
``score_samples(pool)`` (both: featurise every pool paragraph and compute its log weight).

Quality: the KL reduction KL(target || pool) - KL(target || selection) of each selection,
measured the same way for both, with the package's own featuriser (sha256-hashed
unigrams + bigrams) and add-one smoothing, plus the share of selected paragraphs from
the target groups.

Run: python benchmarks/bench_dsir_text.py [--n-pool 60000] [--n-select 6000]
"""

import argparse
import json
import os
import re
import site
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _common import machine, markdown_table  # noqa: E402

_DOCSTRING = re.compile(r'"""(.*?)"""', re.S)


def _paragraphs(text):
    for block in re.split(r"\n\s*\n", text):
        words = block.split()
        if 20 <= len(words) <= 400:
            yield " ".join(words)


def build_corpus(limit_files=None):
    """``[(group, paragraph)]`` from the documentation installed on this machine."""
    roots = [Path(p) for p in site.getsitepackages()] + [Path("/usr/share/doc")]
    items, seen = [], set()
    for root in roots:
        if not root.exists():
            continue
        files = sorted(
            p for ext in ("txt", "md", "rst", "py") for p in root.rglob(f"*.{ext}") if p.is_file()
        )
        for path in files[:limit_files]:
            try:
                raw = path.read_text(errors="ignore")
            except OSError:
                continue
            group = path.relative_to(root).parts[0].split("-")[0].split(".")[0].lower()
            text = "\n\n".join(_DOCSTRING.findall(raw)) if path.suffix == ".py" else raw
            for paragraph in _paragraphs(text):
                if paragraph not in seen:
                    seen.add(paragraph)
                    items.append((group if root.name != "doc" else "doc", paragraph))
    return items


def split(items, target_groups, n_pool, n_target, seed):
    rng = np.random.RandomState(seed)
    is_target = np.array([g in target_groups for g, _ in items])
    target_idx = rng.permutation(np.flatnonzero(is_target))
    other_idx = np.flatnonzero(~is_target)
    target = [items[i][1] for i in target_idx[:n_target]]
    rest = np.concatenate([target_idx[n_target:], other_idx])
    pool_idx = rng.choice(rest, size=min(n_pool, len(rest)), replace=False)
    pool = [items[i][1] for i in pool_idx]
    pool_is_target = is_target[pool_idx]
    return pool, target, pool_is_target


def write_jsonl(path, texts):
    with open(path, "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line)["text"] for line in f]


def run_package(folder, n_select):
    from data_selection import HashedNgramDSIR

    out = folder / "package_out"
    dsir = HashedNgramDSIR(
        raw_datasets=[str(folder / "pool.jsonl")],
        target_datasets=[str(folder / "target.jsonl")],
        cache_dir=str(folder / "package_cache"),
        num_proc=1,
        ngrams=2,
        num_buckets=10_000,
        min_example_length=0,
    )
    t0 = time.perf_counter()
    dsir.fit_importance_estimator(num_tokens_to_fit="auto")
    t1 = time.perf_counter()
    dsir.compute_importance_weights()
    t2 = time.perf_counter()
    np.random.seed(0)  # noqa: NPY002 (the package draws its Gumbel noise from the global RNG)
    dsir.resample(out_dir=str(out), num_to_sample=n_select, cache_dir=str(folder / "pkg_tmp"))
    t3 = time.perf_counter()
    selected = read_jsonl(next(out.glob("*.jsonl")))
    return {"fit": t1 - t0, "weights": t2 - t1, "total": t3 - t0, "selected": selected}


def run_tabsift(folder, n_select):
    from tabsift.sampling import ImportanceResampler

    t0 = time.perf_counter()
    pool = read_jsonl(folder / "pool.jsonl")
    target = read_jsonl(folder / "target.jsonl")
    sampler = ImportanceResampler(target, n_samples=n_select, random_state=0)
    selected, _ = sampler.fit_resample(pool)
    write_jsonl(folder / "tabsift_selected.jsonl", selected)
    t1 = time.perf_counter()
    sampler.score_samples(pool)
    t2 = time.perf_counter()
    return {"total": t1 - t0, "weights": t2 - t1, "selected": selected, "sampler": sampler}


def kl_reduction(target, pool, selected):
    """KL(target||pool) - KL(target||selected) on the package's features, add-one smoothing."""
    from data_selection.hashed_ngram_dsir import get_ngram_counts, wpt

    def dist(texts):
        counts = np.zeros(10_000)
        for t in texts:
            get_ngram_counts(t, n=2, num_buckets=10_000, counts=counts, tokenizer=wpt.tokenize)
        return (counts + 1) / (counts.sum() + 10_000)

    p_t = dist(target)
    kl = lambda q: float(np.sum(p_t * (np.log(p_t) - np.log(q))))  # noqa: E731
    return kl(dist(pool)) - kl(dist(selected))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-pool", type=int, default=60_000)
    parser.add_argument("--n-target", type=int, default=2_000)
    parser.add_argument("--n-select", type=int, default=6_000)
    parser.add_argument("--target-group", nargs="+", default=["scipy"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-package", action="store_true", help="time tabsift only")
    args = parser.parse_args()

    t = time.perf_counter()
    items = build_corpus()
    pool, target, pool_is_target = split(
        items, set(args.target_group), args.n_pool, args.n_target, args.seed
    )
    words = np.mean([len(p.split()) for p in pool])
    print(
        f"corpus: {len(items)} paragraphs in {time.perf_counter() - t:.0f} s; pool {len(pool)} "
        f"(mean {words:.0f} words, {pool_is_target.mean():.1%} from {args.target_group}), "
        f"target {len(target)}"
    )
    in_target = {p for p, flag in zip(pool, pool_is_target, strict=True) if flag}

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_jsonl(folder / "pool.jsonl", pool)
        write_jsonl(folder / "target.jsonl", target)
        ours = run_tabsift(folder, args.n_select)
        results = {"tabsift": ours}
        if not args.skip_package:
            results["data-selection"] = run_package(folder, args.n_select)
    n = len(pool)
    for name, r in results.items():
        rows.append(
            {
                "implementation": name,
                "weights docs/s": f"{n / r['weights']:,.0f}",
                "end-to-end s": f"{r['total']:.1f}",
                "end-to-end docs/s": f"{n / r['total']:,.0f}",
                "KL reduction": f"{kl_reduction(target, pool, r['selected']):.3f}",
                "target-group share": f"{np.mean([s in in_target for s in r['selected']]):.1%}",
            }
        )
    print(f"\n{machine()}; pool {n} paragraphs, select {args.n_select}\n")
    columns = list(rows[0])
    print(markdown_table(rows, columns))
    if "data-selection" in results:
        pkg, ts = results["data-selection"], results["tabsift"]
        print(
            f"\nspeed-up: weights {pkg['weights'] / ts['weights']:.1f}x, "
            f"end-to-end {pkg['total'] / ts['total']:.1f}x"
        )
    print(f"tabsift kl_reduction_ (its own features): {ours['sampler'].kl_reduction_:.3f}")


if __name__ == "__main__":
    main()
