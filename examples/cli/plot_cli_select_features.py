"""
``tabsift select-features``: keep the most important columns of a table
=======================================================================

The job ranks the feature columns of a CSV, TSV or Parquet table with
:class:`~tabsift.feature_selection.KANSelector`, keeps the best ones, and writes the
selected table, ``scores.csv``, an HTML report with its figures and, last, ``job.json``.
Here it runs on the wine recognition table (178 wines, 13 chemical measurements, 3
cultivars) through :func:`tabsift.cli.main`, exactly as the shell command

.. code-block:: console

    $ tabsift select-features wine.csv --target cultivar --keep 4 \
          --epochs 30 --cv 3 --out features

would run it.
"""

# %%
# The job runs in a temporary folder, removed at the end.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.image import imread

from tabsift.cli import main
from tabsift.datasets import load_wine

workdir = tempfile.TemporaryDirectory()
folder = Path(workdir.name)
wine = load_wine()
wine.data.assign(cultivar=wine.target).to_csv(folder / "wine.csv", index=False)

argv = [
    "select-features",
    str(folder / "wine.csv"),
    "--target",
    "cultivar",
    "--keep",
    "4",
    "--epochs",
    "30",
    "--cv",
    "3",
    "--out",
    str(folder / "features"),
]
exit_code = main(argv)
print("exit code:", exit_code)

# %%
# The files the job wrote, and its scores (one row per feature, best first).
for path in sorted((folder / "features").rglob("*")):
    if path.is_file():
        print(path.relative_to(folder))
pd.read_csv(folder / "features/scores.csv").round(3)

# %%
# A finished job is not redone: the same command finds ``job.json`` and returns at once
# (``--force`` recomputes).
print("exit code of the rerun:", main(argv))

# %%
# The figures of the job's HTML report (``report/index.html``), as the job wrote them.
for png in sorted((folder / "features/report").glob("figure-*.png")):
    image = imread(png)
    fig, ax = plt.subplots(
        figsize=(image.shape[1] / 100, image.shape[0] / 100)
    )
    ax.imshow(image)
    ax.set_axis_off()
    ax.set_title(png.name, fontsize=9)
plt.show()
workdir.cleanup()

# sphinx_gallery_multi_image = "single"
