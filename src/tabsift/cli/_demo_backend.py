"""``tabsift demo`` section: the array namespaces tabsift computes in (:mod:`tabsift.backend`)."""

import importlib
import importlib.util
import time

import numpy as np

from tabsift.cli._demo_base import demo_section, figure

_NAMESPACES = ("numpy", "array_api_strict", "cupy")


@demo_section("Array backend")
def array_backend_section(ctx):
    """Installed array namespaces and the timing of one kernel in each."""
    import pandas as pd

    import tabsift
    from tabsift.backend import asarray, get_namespace, to_numpy

    n_rows, n_cols = ctx.size(100_000, 20_000), 20
    X = np.random.default_rng(ctx.seed).normal(2.0, 3.0, size=(n_rows, n_cols))
    expected = (X - X.mean(axis=0)) / X.std(axis=0)
    configured = tabsift.get_config()["array_backend"]
    in_use = get_namespace(X).__name__

    rows = []
    for name in _NAMESPACES:
        row = {
            "namespace": name,
            "installed": importlib.util.find_spec(name) is not None,
            "version": None,
            "module": None,
            "best_ms": None,
            "max_abs_diff": None,
            "error": None,
        }
        rows.append(row)
        if not row["installed"]:
            continue
        try:
            row["version"] = getattr(importlib.import_module(name), "__version__", None)
            with tabsift.config_context(array_backend=name):
                xp = get_namespace(X)
                Xb = asarray(X, xp=xp)
                row["module"] = xp.__name__

                def kernel(xp=xp, Xb=Xb):
                    out = (Xb - xp.mean(Xb, axis=0)) / xp.std(Xb, axis=0)
                    # Converting a reduction waits for asynchronous devices (CuPy).
                    float(to_numpy(xp.sum(out)))
                    return out

                kernel()  # warm-up: first calls may compile or allocate
                times = []
                for _ in range(3):
                    start = time.perf_counter()
                    out = kernel()
                    times.append(time.perf_counter() - start)
            row["best_ms"] = 1000 * min(times)
            row["max_abs_diff"] = float(np.max(np.abs(to_numpy(out) - expected)))
        except Exception as exc:  # one broken namespace (e.g. CuPy without a GPU) is a row
            row["error"] = f"{type(exc).__name__}: {exc}"

    numpy_row = rows[0]
    if numpy_row["error"] is not None:
        raise RuntimeError(f"the NumPy namespace failed: {numpy_row['error']}")
    if numpy_row["max_abs_diff"] > 1e-8:
        raise RuntimeError(
            f"standardising with the NumPy namespace differs from NumPy by "
            f"{numpy_row['max_abs_diff']:.3g}; expected < 1e-8."
        )

    timed = [r for r in rows if r["best_ms"] is not None]
    fig, (ax,) = figure(width=6.0, height=0.6 + 0.6 * len(timed))
    ax.barh([r["namespace"] for r in timed], [r["best_ms"] for r in timed])
    ax.set_xlabel("best of 3, milliseconds")
    ax.set_title(f"Standardising a {n_rows:,} x {n_cols} matrix", fontsize=10)
    ax.invert_yaxis()

    installed = [r["namespace"] for r in rows if r["installed"]]
    return {
        "text": (
            f"Installed array namespaces: {', '.join(installed)}. tabsift computes in the "
            f"namespace of its input unless tabsift.set_config(array_backend=...) forces one; "
            f"the configured backend is {configured!r}, so NumPy input is computed with "
            f"{in_use}.\n\nThe kernel standardises each column, (X - mean) / std, and the "
            f"result is checked against NumPy."
        ),
        "figure": fig,
        "table": pd.DataFrame(rows).rename(
            columns={"best_ms": "best time (ms)", "max_abs_diff": "max abs diff vs NumPy"}
        ),
        "data": {
            "configured_backend": configured,
            "namespace_in_use": in_use,
            "shape": [n_rows, n_cols],
            "namespaces": {
                r["namespace"]: {k: v for k, v in r.items() if k != "namespace"} for r in rows
            },
        },
    }
