"""
``tabsift select-rows``: choose the rows of a pool that match a target
======================================================================

The job selects N rows of a pool table, by default with importance resampling (DSIR):
the pool is streamed in chunks, so it can be larger than memory, and an interrupted job
resumes. It writes the selected rows, their positions in the pool and a summary. Here the
pool mixes four domains (numbers, a category and short texts) and the target sample comes
from one of them (:func:`~tabsift.datasets.make_domain_shift`). The shell command is

.. code-block:: console

    $ tabsift select-rows --pool pool.csv --target target.csv --n 400 \
          --chunksize 1000 --out rows
"""

# %%
# The job runs in a temporary folder, removed at the end.
import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.image import imread

from tabsift.cli import main
from tabsift.datasets import make_domain_shift

workdir = tempfile.TemporaryDirectory()
folder = Path(workdir.name)
data = make_domain_shift(n_pool=4000, n_target=300, random_state=0)
data.pool.to_csv(folder / "pool.csv", index=False)
data.target.to_csv(folder / "target.csv", index=False)
print(data.pool.head())

exit_code = main(
    [
        "select-rows",
        "--pool",
        str(folder / "pool.csv"),
        "--target",
        str(folder / "target.csv"),
        "--n",
        "400",
        "--chunksize",
        "1000",
        "--out",
        str(folder / "rows"),
    ]
)
print("exit code:", exit_code)

# %%
# The files the job wrote and its summary.
for path in sorted((folder / "rows").rglob("*")):
    if path.is_file() and ".work" not in path.parts:
        print(path.relative_to(folder))
summary = json.loads((folder / "rows/summary.json").read_text())
print(
    {
        key: value
        for key, value in summary.items()
        if key not in ("settings", "column_kinds")
    }
)

# %%
# The domain labels are hidden from the job; here they check its choice.
indices = pd.read_csv(folder / "rows/indices.csv")["index"].to_numpy()
shares = pd.DataFrame(
    {
        "pool": data.pool_domain.value_counts(normalize=True),
        "selected rows": data.pool_domain.iloc[indices].value_counts(
            normalize=True
        ),
    }
).fillna(0.0)
shares.round(3)

# %%
# The figures: the share of each domain in the pool and in the selection, then those of
# the job's HTML report when it writes one.
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
shares.plot.barh(ax=ax)
ax.set(
    xlabel="share of rows",
    title=f"target sample: {data.target_domain!r} domain",
)
for png in sorted((folder / "rows").glob("report/figure-*.png")):
    image = imread(png)
    fig, ax = plt.subplots(
        figsize=(image.shape[1] / 100, image.shape[0] / 100)
    )
    ax.imshow(image)
    ax.set_axis_off()
    ax.set_title(str(png.relative_to(folder)), fontsize=9)
plt.show()
workdir.cleanup()

# sphinx_gallery_multi_image = "single"
