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

Timing: the two implementations run ``--repeats`` times, interleaved (package, tabsift,
package, tabsift, ...); each run records wall time, CPU seconds (this process's threads and
its finished worker processes) and the 1-minute load average before and after. Ratios are
medians over the paired repeats, per core (CPU seconds) and wall; a row whose load average
was above 0.5 before a run is flagged BUSY (other processes shared the cores).

``--corpus long``: documents of 8 consecutive paragraphs of one package (~350 words)
instead of single paragraphs, for a second text length. ``--workers 1 2``: time tabsift
alone with ``n_jobs`` 1 and 2 (a scaling table; the selections must be equal).

Run: python benchmarks/bench_dsir_text.py [--corpus paragraphs|long] [--repeats 3]
"""

import argparse
import json
import os
import re
import shutil
import site
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _common import (  # noqa: E402
    interleaved,
    load_note,
    machine,
    markdown_table,
    median_ratio,
)

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


def long_documents(items, per_doc=8):
    """Consecutive paragraphs of one group joined ``per_doc`` at a time."""
    out, i = [], 0
    while i < len(items):
        group = items[i][0]
        j = i
        while j < len(items) and j - i < per_doc and items[j][0] == group:
            j += 1
        out.append((group, "\n\n".join(p for _, p in items[i:j])))
        i = j
    return out


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


def read_jsonl_arrow(path):
    """The texts of a jsonl file, parsed by Arrow's JSON reader on one thread."""
    from pyarrow import json as pa_json

    options = pa_json.ReadOptions(use_threads=False, block_size=1 << 26)
    return pa_json.read_json(path, read_options=options).column("text").to_pylist()


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
    shutil.rmtree(out)
    shutil.rmtree(folder / "pkg_tmp", ignore_errors=True)
    return {"fit": t1 - t0, "weights": t2 - t1, "total": t3 - t0, "selected": selected,
            "dsir": dsir}


def run_tabsift(folder, n_select, n_jobs=None):
    from tabsift.sampling import ImportanceResampler

    t0 = time.perf_counter()
    pool = read_jsonl_arrow(folder / "pool.jsonl")
    target = read_jsonl_arrow(folder / "target.jsonl")
    sampler = ImportanceResampler(target, n_samples=n_select, random_state=0, n_jobs=n_jobs)
    selected, _ = sampler.fit_resample(pool)
    write_jsonl(folder / "tabsift_selected.jsonl", selected)
    t1 = time.perf_counter()
    return {"total": t1 - t0, "selected": selected, "sampler": sampler}


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


def _cpu(part):
    """Median CPU seconds of the runs of one part."""
    return float(np.median([r["cpu"] for r in part]))


def _weights_runs(folder, pool, results, repeats):
    """Weights only, interleaved: the package's compute_importance_weights() vs score_samples."""
    pkg = results.get("data-selection")
    sampler = results["tabsift"][0]["result"]["sampler"]
    parts = {"tabsift": lambda: sampler.score_samples(pool)}
    if pkg is not None:
        dsir = pkg[0]["result"]["dsir"]
        parts = {"data-selection": dsir.compute_importance_weights, **parts}
    return interleaved(parts, repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=("paragraphs", "long"), default="paragraphs")
    parser.add_argument("--n-pool", type=int, default=None,
                        help="default: 60000 paragraphs, 8000 long documents")
    parser.add_argument("--n-target", type=int, default=None, help="default: pool / 30")
    parser.add_argument("--n-select", type=int, default=None, help="default: pool / 10")
    parser.add_argument("--target-group", nargs="+", default=["scipy"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-package", action="store_true", help="time tabsift only")
    parser.add_argument("--workers", type=int, nargs="+", default=None,
                        help="time tabsift alone with these n_jobs (a scaling table)")
    args = parser.parse_args()
    # Imports are not timed (both sides import their package before the first repeat).
    import pyarrow.json  # noqa: F401

    import tabsift.sampling  # noqa: F401

    if not args.skip_package:
        import data_selection  # noqa: F401
    n_pool = args.n_pool or (60_000 if args.corpus == "paragraphs" else 8_000)
    n_target = args.n_target or n_pool // 30
    n_select = args.n_select or n_pool // 10

    t = time.perf_counter()
    items = build_corpus()
    if args.corpus == "long":
        items = long_documents(items)
    pool, target, pool_is_target = split(items, set(args.target_group), n_pool, n_target,
                                         args.seed)
    words = np.mean([len(p.split()) for p in pool])
    print(
        f"corpus ({args.corpus}): {len(items)} documents in {time.perf_counter() - t:.0f} s; "
        f"pool {len(pool)} (mean {words:.0f} words, {pool_is_target.mean():.1%} from "
        f"{args.target_group}), target {len(target)}, select {n_select}"
    )
    in_target = {p for p, flag in zip(pool, pool_is_target, strict=True) if flag}
    n = len(pool)
    print(f"\n{machine()}\n")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_jsonl(folder / "pool.jsonl", pool)
        write_jsonl(folder / "target.jsonl", target)
        if args.workers:
            runs = interleaved(
                {j: (lambda j=j: run_tabsift(folder, n_select, n_jobs=j)) for j in args.workers},
                args.repeats,
            )
            first = runs[args.workers[0]][0]["result"]["sampler"].sample_indices_
            rows = []
            for j, part in runs.items():
                same = all(np.array_equal(r["result"]["sampler"].sample_indices_, first)
                           for r in part)
                wall = float(np.median([r["wall"] for r in part]))
                rows.append({
                    "workers": j,
                    "end-to-end wall s": f"{wall:.2f}",
                    "docs/s (wall)": f"{n / wall:,.0f}",
                    "CPU s (all processes)": f"{_cpu(part):.2f}",
                    "same selection as 1st": "yes" if same else "NO",
                    "load": load_note(part),
                })
            print(markdown_table(rows, list(rows[0])))
            return
        parts = {}
        if not args.skip_package:
            parts["data-selection"] = lambda: run_package(folder, n_select)
        parts["tabsift"] = lambda: run_tabsift(folder, n_select, n_jobs=1)
        results = interleaved(parts, args.repeats)
        weights = _weights_runs(folder, pool, results, args.repeats)

    rows = []
    for name, part in results.items():
        r = part[0]["result"]
        wall = float(np.median([x["wall"] for x in part]))
        rows.append(
            {
                "implementation": name,
                "weights CPU s": f"{_cpu(weights[name]):.2f}",
                "end-to-end wall s": f"{wall:.2f}",
                "end-to-end CPU s": f"{_cpu(part):.2f}",
                "docs/CPU-s": f"{n / _cpu(part):,.0f}",
                "KL reduction": f"{kl_reduction(target, pool, r['selected']):.4f}",
                "target-group share": f"{np.mean([s in in_target for s in r['selected']]):.1%}",
                "machine during the run": load_note(part),
            }
        )
    print(f"{args.repeats} interleaved repeats, medians\n")
    print(markdown_table(rows, list(rows[0])))
    if "data-selection" in results:
        pkg, ours = results["data-selection"], results["tabsift"]
        print(
            f"\nspeed-up, median of paired repeats: end to end {median_ratio(pkg, ours, 'cpu'):.1f}x "
            f"per core (CPU s), {median_ratio(pkg, ours, 'wall'):.1f}x wall; weights "
            f"{median_ratio(weights['data-selection'], weights['tabsift'], 'cpu'):.1f}x per core"
        )
    sampler = results["tabsift"][0]["result"]["sampler"]
    print(f"tabsift kl_reduction_ (its own features): {sampler.kl_reduction_:.3f}")


if __name__ == "__main__":
    main()
