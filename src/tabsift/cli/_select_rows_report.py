"""The HTML report of a ``select-rows`` job."""


def write_report(args, selection, indices, table, summary, folder):
    """Return the job's HTML report: the selection, its spread over the pool, weights, method results."""
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure

    from tabsift.report import Report

    report = Report(f"tabsift select-rows: {args.pool.name}")
    n_pool = selection.n_pool or selection.summary.get("n_pool")
    share = f" of {n_pool} pool rows ({len(indices) / n_pool:.1%})" if n_pool else ""
    has_weights = "weight" in table.columns
    fig = Figure(figsize=(10 if has_weights else 6, 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, 2 if has_weights else 1))
    axes[0].hist(indices, bins=min(50, max(5, len(indices) // 4)), color="#1f77b4")
    axes[0].set(xlabel="pool row position", ylabel="selected rows",
                title="Where the selected rows lie in the pool")
    if n_pool:
        axes[0].set_xlim(0, n_pool)
    if has_weights:
        axes[1].hist(table["weight"], bins=30, color="#ff7f0e")
        axes[1].set(xlabel="weight", ylabel="selected rows", title="Weights of the selected rows")
    text = (
        f"--method {args.method} selected {len(indices)} rows{share}. The selected rows are "
        f"in selected{args.pool.suffix.lower()} (as read from the pool) and their positions in "
        "indices.csv."
    )
    if has_weights:
        w = table["weight"].to_numpy(dtype=float)
        text += (
            f" Their weights (the 'weight' column of indices.csv) range from {w.min():.4g} to "
            f"{w.max():.4g} (mean {w.mean():.4g})."
        )
    report.add_section("Selection", text=text, figure=fig, data={
        "method": args.method, "n_selected": int(len(indices)), "n_pool": n_pool,
    })
    scalars = {
        key: value for key, value in selection.summary.items()
        if isinstance(value, (int, float, str, bool)) or value is None
    }
    if scalars:
        report.add_section(
            "What the method reports",
            text="The method's own results (all of them, nested ones too, in summary.json).",
            table=pd.DataFrame(
                {"result": list(scalars), "value": [str(v) for v in scalars.values()]}
            ),
        )
    steps = selection.preparation or []
    report.add_section(
        "Table preparation",
        text="Steps taken on the pool before selecting." if steps
        else "The pool needed no preparation (or the method reads it as it comes).",
        table=pd.DataFrame(
            [{"step": st["step"], "columns": ", ".join(map(str, st["columns"])),
              "detail": st["detail"]} for st in steps]
        ) if steps else None,
        data={"steps": steps},
    )
    report.add_section(
        "Settings", table=pd.DataFrame(
            {"setting": list(summary["settings"]),
             "value": [str(v) for v in summary["settings"].values()]}
        ),
    )
    report.write(folder)
