"""Safe formula evaluation against pandas' own ``DataFrame.eval`` and hand-written NumPy.

tabsift.expr parses with its own parser (no eval/exec) and evaluates vectorised on the
array backend. pandas.eval is what a user would otherwise reach for; hand-written NumPy is
the floor. Parsing cost is reported separately (it is paid once per formula).

Run: python benchmarks/bench_expr.py [--rows 1000000]
"""

import argparse

import numpy as np
import pandas as pd
from _common import best_of, machine, markdown_table

from tabsift.expr import evaluate, parse

FORMULAS = {
    "polynomial": ("0.5 * x1 - 0.3 * x2 + 0.2 * x3 + 0.4 * x3 ** 2", None),
    "mechanism": (
        "1.8 * sigmoid(2 * x1 * x2) + 0.4 * x3 ** 2",
        "1.8 / (1 + exp(-(2 * x1 * x2))) + 0.4 * x3 ** 2",
    ),
    "condition": ("where((x1 > 0) & (x2 < 0.5), log1p(abs(x3)), sqrt(abs(x4)))", None),
}


def numpy_version(name, df):
    x1, x2, x3, x4 = (df[c].to_numpy() for c in ("x1", "x2", "x3", "x4"))
    if name == "polynomial":
        return 0.5 * x1 - 0.3 * x2 + 0.2 * x3 + 0.4 * x3**2
    if name == "mechanism":
        return 1.8 / (1 + np.exp(-2 * x1 * x2)) + 0.4 * x3**2
    return np.where((x1 > 0) & (x2 < 0.5), np.log1p(np.abs(x3)), np.sqrt(np.abs(x4)))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(args.rows, 4)), columns=["x1", "x2", "x3", "x4"])
    rows = []
    for name, (formula, pandas_formula) in FORMULAS.items():
        expr = parse(formula)
        t_parse = best_of(lambda: parse(formula), number=200)
        t_ours = best_of(lambda: evaluate(expr, df))
        t_np = best_of(lambda: numpy_version(name, df))
        ours = evaluate(expr, df)
        np.testing.assert_allclose(ours, numpy_version(name, df), rtol=1e-12)
        row = {
            "formula": name,
            "parse (us)": f"{t_parse * 1e6:.0f}",
            "tabsift (ms)": f"{t_ours * 1e3:.1f}",
            "numpy by hand (ms)": f"{t_np * 1e3:.1f}",
            "pandas.eval (ms)": "n/a (no where())",
            "pandas.eval / tabsift": "",
        }
        try:
            pf = pandas_formula or formula
            t_pd = best_of(lambda: df.eval(pf, engine="python"))
            np.testing.assert_allclose(df.eval(pf, engine="python"), ours, rtol=1e-12)
            row["pandas.eval (ms)"] = f"{t_pd * 1e3:.1f}"
            row["pandas.eval / tabsift"] = f"{t_pd / t_ours:.2f}"
        except Exception as err:  # pandas.eval has no sigmoid/where: record why
            row["pandas.eval (ms)"] = f"n/a ({type(err).__name__})"
        rows.append(row)
    print(f"Machine: {machine()}; pandas {pd.__version__}; rows: {args.rows}\n")
    print(markdown_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
