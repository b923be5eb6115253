"""Offline formulas vs the noise ceiling: planted composite mechanisms (issue 19).

Each mechanism is ``y = f(X) + sigma * e`` with ``e`` standard normal and a known
``sigma``, so the best any model can reach on the test rows is the R^2 of the noiseless
``f`` itself (the *noise ceiling*). For each mechanism, base model and seed, 1,000 rows
are drawn and split 70/30; ResidualAgentRegressor (offline proposer, ``n_corrections=2``,
``n_rounds=3``, ``cv=5``) is fit on the 70%, and its refit ``base_estimator_`` is the
base model (same rows), so the two R^2 differ only by the corrections. Reported on the
30%, mean over seeds: base R^2, corrected R^2, ceiling R^2 and the fraction of the gap
closed, ``(corrected - base) / (ceiling - base)`` (from the means).

Bases: ``LinearRegression`` and the estimators' default XGBoost
(``n_estimators=200, max_depth=4, learning_rate=0.05``).

Run: python benchmarks/bench_residual_mechanisms.py [--seeds 3] [--mechanisms a,b]
     [--bases linear,xgboost] [--rounds 3]
"""

import argparse
import collections
import time
import warnings

import numpy as np
import pandas as pd
from _common import machine, markdown_table

N_ROWS = 1000


def _frame(columns):
    return pd.DataFrame(columns)


def _normal(rng, n, k, prefix="x", start=1):
    return {f"{prefix}{start + j}": rng.standard_normal(n) for j in range(k)}


def _issue(rng, n):
    # The mechanism of issue 19: a saturating (Michaelis-Menten) effect of a product.
    c = {
        "dose": rng.uniform(0, 2, n),
        "temp": rng.standard_normal(n),
        "ph": rng.uniform(0.5, 2, n),
        "salt": rng.uniform(0, 2, n),
        "noise1": rng.standard_normal(n),
        "noise2": rng.standard_normal(n),
    }
    ps = c["ph"] * c["salt"]
    return c, 1.5 * c["dose"] - 0.8 * c["temp"] + 3 * ps / (1 + ps), 0.2


def _tanh_product(rng, n):
    c = _normal(rng, n, 5)
    return c, c["x1"] + 2 * np.tanh(c["x2"] * c["x3"]), 0.3


def _ratio_of_sums(rng, n):
    c = {f"x{j}": rng.uniform(0, 2, n) for j in range(1, 5)}
    c["x5"] = rng.standard_normal(n)
    f = c["x5"] + 3 * (c["x1"] + c["x2"]) / (1 + c["x3"] + c["x4"])
    return c, f, 0.15


def _gated_slope(rng, n):
    # A thresholded interaction: x2 matters only where x3 > 0.5.
    c = _normal(rng, n, 5)
    return c, c["x1"] + 2 * c["x2"] * (c["x3"] > 0.5), 0.3


def _joint_step(rng, n):
    c = _normal(rng, n, 5)
    return c, c["x1"] - c["x2"] + 2 * ((c["x3"] > 0) & (c["x4"] > 0)), 0.3


def _periodic(rng, n):
    c = _normal(rng, n, 4, start=2)
    c["x1"] = rng.uniform(0, 3, n)
    c = dict(sorted(c.items()))
    return c, c["x2"] + 1.5 * np.sin(2.5 * c["x1"] + 0.7), 0.3


def _log_product(rng, n):
    c = {"x1": rng.uniform(0.05, 3, n), "x2": rng.uniform(0.05, 3, n)}
    c |= _normal(rng, n, 3, start=3)
    return c, c["x3"] + 1.5 * np.log(c["x1"] * c["x2"]), 0.3


def _mixture_noise(rng, n):
    # Two mechanisms among twelve columns, nine of them noise.
    c = _normal(rng, n, 12)
    return c, c["x1"] + 1.5 * c["x2"] * c["x3"] + 0.8 * c["x4"] ** 2, 0.4


def _difference_step(rng, n):
    c = _normal(rng, n, 5)
    return c, c["x1"] + 2 * (c["x2"] > c["x3"]), 0.3


def _saturated_sum(rng, n):
    c = _normal(rng, n, 5)
    s = c["x1"] + c["x2"]
    return c, c["x3"] + 3 * s / (1 + np.abs(s)), 0.3


def _decay_product(rng, n):
    c = {"x1": rng.uniform(0, 2, n), "x2": rng.uniform(0, 2, n)}
    c |= _normal(rng, n, 3, start=3)
    return c, c["x3"] + 3 * np.exp(-c["x1"] * c["x2"]), 0.2


MECHANISMS = {
    "issue: 1.5 dose - 0.8 temp + 3 ph salt / (1 + ph salt)": _issue,
    "x1 + 2 tanh(x2 x3)": _tanh_product,
    "x5 + 3 (x1 + x2) / (1 + x3 + x4)": _ratio_of_sums,
    "x1 + 2 x2 [x3 > 0.5]": _gated_slope,
    "x1 - x2 + 2 [x3 > 0 and x4 > 0]": _joint_step,
    "x2 + 1.5 sin(2.5 x1 + 0.7)": _periodic,
    "x3 + 1.5 log(x1 x2)": _log_product,
    "x1 + 1.5 x2 x3 + 0.8 x4^2 (+8 noise columns)": _mixture_noise,
    "x1 + 2 [x2 > x3]": _difference_step,
    "x3 + 3 s / (1 + |s|), s = x1 + x2": _saturated_sum,
    "x3 + 3 exp(-x1 x2)": _decay_product,
}


def make_mechanism(name, seed, n=N_ROWS):
    """``(X, y, f)``: the table, the noisy target and the noiseless mechanism."""
    rng = np.random.default_rng(seed)
    columns, f, sigma = MECHANISMS[name](rng, n)
    f = np.asarray(f, dtype=float)
    return _frame(columns), f + sigma * rng.standard_normal(n), f


def run_one(name, kind, seed, rounds):
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split

    from tabsift.residual import ResidualAgentRegressor

    X, y, f = make_mechanism(name, seed)
    X_tr, X_te, y_tr, y_te, _, f_te = train_test_split(X, y, f, test_size=0.3, random_state=seed)
    base = LinearRegression() if kind == "linear" else None
    model = ResidualAgentRegressor(
        base, n_corrections=2, n_rounds=rounds, cv=5, n_jobs=1, random_state=seed
    )
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(X_tr, y_tr)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    base_pred = model.base_estimator_.predict(X_te.to_numpy(dtype=float))
    return {
        "base": r2_score(y_te, base_pred),
        "corrected": r2_score(y_te, model.predict(X_te)),
        "ceiling": r2_score(y_te, f_te),
        "formulas": [c.expression for c in model.corrections_],
        "seconds": elapsed,
        "cpu": cpu,
    }


def _code(formula):
    return f"`` {formula} ``" if "`" in formula else f"`{formula}`"


def summarise(name, kind, runs):
    base = np.mean([r["base"] for r in runs])
    corrected = np.mean([r["corrected"] for r in runs])
    ceiling = np.mean([r["ceiling"] for r in runs])
    closed = (corrected - base) / (ceiling - base) if ceiling - base > 1e-9 else float("nan")
    formulas = collections.Counter(f for r in runs for f in r["formulas"])
    return {
        "mechanism": name,
        "base": kind,
        "R² base": f"{base:.3f}",
        "R² corrected": f"{corrected:.3f}",
        "R² ceiling": f"{ceiling:.3f}",
        "gap closed": f"{100 * closed:.0f}%",
        "closed": closed,
        "fit s": f"{np.mean([r['seconds'] for r in runs]):.1f}",
        "CPU s": f"{np.mean([r['cpu'] for r in runs]):.1f}",
        "most kept": "; ".join(f"{_code(f)} ({n})" for f, n in formulas.most_common(2)) or "-",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mechanisms", default=None, help="comma-separated 1-based indices")
    parser.add_argument("--bases", default="linear,xgboost")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    names = list(MECHANISMS)
    if args.mechanisms:
        names = [names[int(i) - 1] for i in args.mechanisms.split(",")]
    bases = args.bases.split(",")
    print(f"Machine: {machine()} (shared and contended: timings are indicative only)")
    rows = []
    for kind in bases:
        for name in names:
            runs = [run_one(name, kind, seed, args.rounds) for seed in range(args.seeds)]
            row = summarise(name, kind, runs)
            rows.append(row)
            print({k: v for k, v in row.items() if k != "closed"}, flush=True)
    print()
    columns = ["mechanism", "base", "R² base", "R² corrected", "R² ceiling", "gap closed"]
    print(markdown_table(rows, [*columns, "most kept", "fit s", "CPU s"]))
    print()
    for kind in bases:
        closed = [r["closed"] for r in rows if r["base"] == kind]
        print(f"mean gap closed, {kind} base: {100 * np.nanmean(closed):.0f}% over {len(closed)}")


if __name__ == "__main__":
    main()
