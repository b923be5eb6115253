"""KAN training speed: tabsift's engine against pykan, on the same network and data.

Network: widths [d, 2d+1, n_classes], grid 2, spline order 1, grid range [-1, 1], fixed
grid, no regularisation, Adam, mini-batches of 64 (the paper's setting). Data:
make_classification(500, 10, 5 informative), standardised.

Rows of the engine table (all in this process, same data, epochs, batch size, learning rate):

- tabsift engine: ``_kan_network.TabsiftKANEngine.fit`` (batched B-spline basis + one matmul);
- pykan, tabsift's loop: ``_pykan_engine.PykanEngine.fit``, our epoch loop (shuffled
  mini-batches, Adam) around pykan's ``model(x)``, symbolic branch off;
- pykan, its own fit: ``kan.KAN(...).fit(dataset, opt="Adam", steps=epochs*ceil(n/batch),
  batch=64, update_grid=False, lamb=0)``: pykan's API as a user would call it (it also
  evaluates one test batch per step and draws batches from numpy's global generator);
- pykan defaults: ``kan.KAN(width, grid=2, k=1)`` as constructed by default (symbolic branch
  and activation statistics on; pykan's ``fit`` turns both off when ``lamb=0``, a plain loop
  does not) trained by a plain loop; only 2 epochs are run and extrapolated.

Then the whole selector: ``KANSelector(engine="tabsift")`` vs ``KANSelector(engine="pykan")``
with default settings (100 epochs, 5-fold CV) and ``early_stopping=False`` on both sides (pykan's
engine has no early stopping; like for like means every epoch on both), and whether both keep
the same top 4 features.

Last, the top-k agreement on informative-feature benchmarks: four tables in which some columns
drive the target and the rest are pure noise (make_classification without redundant columns,
make_regression, and tabsift's make_informative for both tasks, with linear, quadratic and sine
effects), each of the four methods with both engines: are the top k (k = number of
informative columns) the same set, and is it the informative set?

Run: python benchmarks/bench_kan_speed.py [--quick] [--threads 1 2] [--no-agreement]
"""

import argparse
import contextlib
import io
import math
import os
import time

import numpy as np
import torch
from _common import machine, markdown_table
from scipy.stats import spearmanr
from sklearn.datasets import make_classification

NETWORK = {"grid_size": 2, "spline_order": 1, "grid_range": (-1.0, 1.0)}


def _data(n_rows, n_features):
    X, y = make_classification(
        n_samples=n_rows, n_features=n_features, n_informative=5, random_state=0
    )
    return X, y


def _column_kinds(n_rows, n_features):
    """ "informative", "redundant" or "noise" for each column of ``_data``.

    make_classification shuffles columns; the unshuffled draw (same seed) has the
    informative columns first, then the redundant ones, so columns are matched by value.
    """
    X, _ = _data(n_rows, n_features)
    X0, _ = make_classification(
        n_samples=n_rows, n_features=n_features, n_informative=5, random_state=0, shuffle=False
    )
    sorted0 = np.sort(X0, axis=0)
    kinds = []
    for j in range(n_features):
        i = int(np.argmin(np.abs(np.sort(X[:, j])[:, None] - sorted0).sum(axis=0)))
        kinds.append("informative" if i < 5 else "redundant" if i < 7 else "noise")
    return kinds


def _tensors(X, y):
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    return torch.tensor(Xs, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def _engine_kwargs(d, n_out):
    return dict(
        n_inputs=d,
        n_outputs=n_out,
        hidden_width=2 * d + 1,
        task="classification",
        device=torch.device("cpu"),
        seed=0,
        **NETWORK,
    )


def _time_engine(make, X, y, *, epochs, batch, lr, repeat):
    """Best (build, fit) seconds over ``repeat`` runs, and the last run's training loss."""
    # Untimed warm-up: imports, torch's first-call dispatch and allocator caches.
    make().fit(X, y, epochs=1, batch_size=batch, learning_rate=lr)
    best_build = best_fit = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        engine = make()
        t1 = time.perf_counter()
        engine.fit(X, y, epochs=epochs, batch_size=batch, learning_rate=lr)
        t2 = time.perf_counter()
        best_build, best_fit = min(best_build, t1 - t0), min(best_fit, t2 - t1)
    return best_build, best_fit, engine.loss(X, y)


def _time_pykan_fit(X, y, *, epochs, batch, lr, repeat):
    """pykan's own ``KAN.fit`` with Adam, the equivalent number of steps, no grid update."""
    import kan

    from tabsift.feature_selection._pykan_engine import _global_rng_preserved, _private_workdir

    d, n_out = X.shape[1], int(y.max()) + 1
    steps = epochs * math.ceil(X.shape[0] / batch)
    dataset = {"train_input": X, "train_label": y, "test_input": X, "test_label": y}
    best_build = best_fit = math.inf
    # pykan seeds and draws from the global generators and may write files: keep both private.
    with _global_rng_preserved(torch), _private_workdir():
        for run in range(repeat + 1):  # run 0: untimed warm-up
            t0 = time.perf_counter()
            model = kan.KAN(
                width=[d, 2 * d + 1, n_out],
                grid=NETWORK["grid_size"],
                k=NETWORK["spline_order"],
                grid_range=list(NETWORK["grid_range"]),
                seed=0,
                auto_save=False,
            )
            t1 = time.perf_counter()
            with contextlib.redirect_stderr(io.StringIO()):  # its tqdm bar
                model.fit(
                    dataset,
                    opt="Adam",
                    steps=steps if run else math.ceil(X.shape[0] / batch),
                    lr=lr,
                    batch=batch,
                    update_grid=False,
                    lamb=0.0,
                    loss_fn=torch.nn.CrossEntropyLoss(),
                )
            t2 = time.perf_counter()
            if run:
                best_build, best_fit = min(best_build, t1 - t0), min(best_fit, t2 - t1)
        with torch.no_grad():
            loss = float(torch.nn.functional.cross_entropy(model(X), y))
    return best_build, best_fit, loss


def _time_pykan_defaults(X, y, *, epochs, batch, lr, measured_epochs=2):
    """pykan with its constructor defaults (symbolic branch and activation statistics on)
    trained by a plain epoch loop around ``model(x)``; too slow to run all epochs, so the
    per-epoch time of ``measured_epochs`` epochs is extrapolated."""
    import kan

    from tabsift.feature_selection._pykan_engine import _global_rng_preserved, _private_workdir

    d, n_out = X.shape[1], int(y.max()) + 1
    with _global_rng_preserved(torch), _private_workdir():
        t0 = time.perf_counter()
        model = kan.KAN(width=[d, 2 * d + 1, n_out], grid=2, k=1, seed=0, auto_save=False)
        t1 = time.perf_counter()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        generator = torch.Generator().manual_seed(0)
        for _ in range(measured_epochs):
            order = torch.randperm(X.shape[0], generator=generator)
            for start in range(0, X.shape[0], batch):
                idx = order[start : start + batch]
                loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        t2 = time.perf_counter()
    return t1 - t0, (t2 - t1) * epochs / measured_epochs, float("nan")


def engine_rows(X, y, *, epochs, batch, lr, repeat, threads):
    from tabsift.feature_selection._pykan_engine import PykanEngine

    d, n_out = X.shape[1], int(y.max()) + 1
    kwargs = _engine_kwargs(d, n_out)
    runs = []
    try:
        from tabsift.feature_selection._kan_network import TabsiftKANEngine
    except ImportError:
        TabsiftKANEngine = None
    if TabsiftKANEngine is not None:
        runs.append(
            (
                "tabsift engine (TabsiftKANEngine.fit)",
                _time_engine(
                    lambda: TabsiftKANEngine(**kwargs),
                    X,
                    y,
                    epochs=epochs,
                    batch=batch,
                    lr=lr,
                    repeat=repeat,
                ),
            )
        )
    runs.append(
        (
            "pykan, tabsift's loop (PykanEngine.fit)",
            _time_engine(
                lambda: PykanEngine(**kwargs),
                X,
                y,
                epochs=epochs,
                batch=batch,
                lr=lr,
                repeat=repeat,
            ),
        )
    )
    runs.append(
        (
            "pykan, its own KAN.fit(opt='Adam')",
            _time_pykan_fit(X, y, epochs=epochs, batch=batch, lr=lr, repeat=repeat),
        )
    )
    runs.append(
        (
            "pykan defaults (symbolic branch on), plain loop [extrapolated from 2 epochs]",
            _time_pykan_defaults(X, y, epochs=epochs, batch=batch, lr=lr),
        )
    )
    reference = runs[0][1][0] + runs[0][1][1] if TabsiftKANEngine is not None else None
    rows = []
    for name, (build, fit, loss) in runs:
        total = build + fit
        rows.append(
            {
                "threads": threads,
                "implementation": name,
                "build (s)": f"{build:.4f}",
                "per epoch (ms)": f"{1000 * fit / epochs:.2f}",
                "build + fit (s)": f"{total:.3f}",
                "x slower than tabsift": f"{total / reference:.1f}x" if reference else "n/a",
                "final train loss": "n/a" if math.isnan(loss) else f"{loss:.3f}",
            }
        )
    return rows


def _top_k(selector, k):
    scores = np.asarray(selector.scores_, dtype=float)
    return sorted(np.argsort(-scores, kind="stable")[:k].tolist())


def selector_rows(X, y, *, epochs, repeat, threads, kinds, k=4):
    try:
        from tabsift.feature_selection import KANSelector
    except ImportError:
        return []
    results = {}
    for engine in ("tabsift", "pykan"):
        best = math.inf
        for _ in range(repeat):
            selector = KANSelector(
                engine=engine, epochs=epochs, early_stopping=False, random_state=0
            )
            t = time.perf_counter()
            selector.fit(X, y)
            best = min(best, time.perf_counter() - t)
        results[engine] = (best, _top_k(selector, k), selector.scores_)
    same = results["tabsift"][1] == results["pykan"][1]
    rho = spearmanr(results["tabsift"][2], results["pykan"][2]).statistic
    rows = []
    for engine, (seconds, top, _) in results.items():
        counts = {
            kind: sum(kinds[j] == kind for j in top)
            for kind in ("informative", "redundant", "noise")
        }
        rows.append(
            {
                "threads": threads,
                "selector": f'KANSelector(engine="{engine}")',
                "fit (s)": f"{seconds:.2f}",
                "x slower than tabsift": f"{seconds / results['tabsift'][0]:.1f}x",
                f"top {k}": top,
                "informative / redundant / noise": "{informative} / {redundant} / {noise}".format(
                    **counts
                ),
                "same top k": same,
                "Spearman of scores": f"{rho:.2f}",
            }
        )
    return rows


def _agreement_data(n_rows, n_features, n_informative):
    from sklearn.datasets import make_regression

    from tabsift.datasets import make_informative

    X, y = make_classification(
        n_samples=n_rows,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=0,
        random_state=0,
        shuffle=False,
    )
    yield "make_classification, no redundant", X, y, list(range(n_informative))
    X, y, coef = make_regression(
        n_samples=n_rows,
        n_features=n_features,
        n_informative=n_informative,
        noise=1.0,
        coef=True,
        random_state=0,
    )
    yield "make_regression", X, y, np.flatnonzero(coef).tolist()
    for task in ("classification", "regression"):
        bunch = make_informative(
            n_rows, n_features, n_informative, task=task, random_state=0
        )
        truth = [bunch.feature_names.index(name) for name in bunch.informative]
        X, y = bunch.data.to_numpy(), bunch.target.to_numpy()
        yield f"make_informative, {task}", X, y, sorted(truth)


def agreement_rows(*, epochs, n_rows, n_features, n_informative=5):
    from tabsift.feature_selection import KANSelector

    rows = []
    for name, X, y, truth in _agreement_data(n_rows, n_features, n_informative):
        for method in ("l1", "l2", "si", "ko"):
            tops, seconds = {}, {}
            for engine in ("tabsift", "pykan"):
                selector = KANSelector(
                    method, engine=engine, epochs=epochs, early_stopping=False, random_state=0
                )
                t = time.perf_counter()
                selector.fit(X, y)
                seconds[engine] = time.perf_counter() - t
                tops[engine] = _top_k(selector, n_informative)
            rows.append(
                {
                    "data": name,
                    "method": method,
                    "tabsift top k": tops["tabsift"],
                    "pykan top k": tops["pykan"],
                    "same set": tops["tabsift"] == tops["pykan"],
                    "tabsift = informative": tops["tabsift"] == truth,
                    "pykan = informative": tops["pykan"] == truth,
                    "fit s (tabsift / pykan)": f"{seconds['tabsift']:.2f} / {seconds['pykan']:.2f}",
                }
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer epochs, one repeat")
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1], help="torch thread counts to run with"
    )
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=None, help="default 100 (10 with --quick)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--no-selector", action="store_true", help="skip the KANSelector rows")
    parser.add_argument(
        "--no-agreement", action="store_true", help="skip the top-k agreement table"
    )
    args = parser.parse_args()
    epochs = args.epochs or (10 if args.quick else 100)
    repeat = 1 if args.quick else 3

    X_np, y_np = _data(args.rows, args.features)
    X, y = _tensors(X_np, y_np)
    kinds = _column_kinds(args.rows, args.features)
    engine_table, selector_table = [], []
    for threads in args.threads:
        torch.set_num_threads(threads)
        engine_table += engine_rows(
            X, y, epochs=epochs, batch=args.batch, lr=args.lr, repeat=repeat, threads=threads
        )
        if not args.no_selector:
            selector_table += selector_rows(
                X_np, y_np, epochs=epochs, repeat=1, threads=threads, kinds=kinds
            )

    # Other processes on a small machine distort timings (2 threads especially): say so.
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"Machine: {machine()}, torch {torch.__version__}; load average after run: {load}")
    print(
        f"Data: make_classification({args.rows}, {args.features}, 5 informative); network "
        f"[{args.features}, {2 * args.features + 1}, 2], grid 2, order 1; {epochs} epochs, "
        f"batch {args.batch}, lr {args.lr}; best of {repeat}.\n"
    )
    print(
        markdown_table(
            engine_table,
            [
                "threads",
                "implementation",
                "build (s)",
                "per epoch (ms)",
                "build + fit (s)",
                "x slower than tabsift",
                "final train loss",
            ],
        )
    )
    if selector_table:
        truth = ", ".join(f"{j}: {kind}" for j, kind in enumerate(kinds))
        print(
            f"\nKANSelector, default settings (method l2, cv=5), epochs={epochs}, top 4 compared."
            f"\nColumns: {truth}.\n"
        )
        print(
            markdown_table(
                selector_table,
                [
                    "threads",
                    "selector",
                    "fit (s)",
                    "x slower than tabsift",
                    "top 4",
                    "informative / redundant / noise",
                    "same top k",
                    "Spearman of scores",
                ],
            )
        )

    if not args.no_agreement:
        torch.set_num_threads(args.threads[0])
        table = agreement_rows(epochs=epochs, n_rows=args.rows, n_features=args.features)
        print(
            f"\nTop-k agreement, informative columns and pure noise ({args.rows} rows, "
            f"{args.features} columns, 5 informative), default KANSelector settings, "
            f"{epochs} epochs, random_state=0, {args.threads[0]} thread(s).\n"
        )
        print(markdown_table(table, list(table[0])))


if __name__ == "__main__":
    main()
