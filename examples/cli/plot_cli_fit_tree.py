"""
``tabsift fit-tree``: evolve a shallow decision tree on a table
===============================================================

The job evolves a shallow decision tree with
:class:`~tabsift.tree.EvolvedTreeClassifier` (or the regressor, for a numeric target) and
writes the tree as text, JSON and a picture, with the fitness history. Here it runs on
R's ``MASS/biopsy`` table exactly as shipped (699 breast tumour biopsies, R's row names,
a sample ``ID`` column, 16 missing values): the job's table preparation drops the row
names, ``--drop ID`` leaves out the identifier, and each split learns where missing
values go. The shell command is

.. code-block:: console

    $ tabsift fit-tree biopsy.csv --target class --drop ID --max-depth 2 \
          --generations 5 --population 12 --out tree
"""

# %%
# The job runs in a temporary folder, removed at the end.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.image import imread

from tabsift.cli import main
from tabsift.datasets import load_r_table

workdir = tempfile.TemporaryDirectory()
folder = Path(workdir.name)
(folder / "biopsy.csv").write_bytes(load_r_table("MASS/biopsy", raw=True))
print(pd.read_csv(folder / "biopsy.csv").head())

exit_code = main(
    [
        "fit-tree",
        str(folder / "biopsy.csv"),
        "--target",
        "class",
        "--drop",
        "ID",
        "--max-depth",
        "2",
        "--generations",
        "5",
        "--population",
        "12",
        "--out",
        str(folder / "tree"),
    ]
)
print("exit code:", exit_code)

# %%
# The files the job wrote, and the tree as text.
for path in sorted((folder / "tree").rglob("*")):
    if path.is_file():
        print(path.relative_to(folder))
print((folder / "tree/tree.txt").read_text())

# %%
# One row per generation: the best training and validation fitness.
pd.read_csv(folder / "tree/history.csv").tail()

# %%
# The figures the job wrote: the tree, and those of its report when it writes one.
for png in [
    (folder / "tree/tree.png"),
    *sorted((folder / "tree").glob("report/figure-*.png")),
]:
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
