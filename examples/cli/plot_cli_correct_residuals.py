"""
``tabsift correct-residuals``: correction formulas for a base model
===================================================================

The job fits a base model, searches its out-of-fold residuals for correction formulas,
keeps a formula only when it lowers the validation loss, and writes the corrections
(JSON), the search trace, the predictions and an HTML report. Without ``--llm-model`` the
search is offline. Here the table has a planted mechanism that a linear base model
misses (:func:`~tabsift.datasets.make_missing_interaction`). The shell command is

.. code-block:: console

    $ tabsift correct-residuals table.csv --target target --base linear \
          --rounds 2 --cv 3 --out residuals
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
from tabsift.datasets import make_missing_interaction

workdir = tempfile.TemporaryDirectory()
folder = Path(workdir.name)
data = make_missing_interaction(n_samples=600, random_state=0)
data.frame.to_csv(folder / "table.csv", index=False)
print("planted:", data.linear_formula, "+", data.mechanism)

exit_code = main(
    [
        "correct-residuals",
        str(folder / "table.csv"),
        "--target",
        "target",
        "--base",
        "linear",
        "--rounds",
        "2",
        "--cv",
        "3",
        "--out",
        str(folder / "residuals"),
    ]
)
print("exit code:", exit_code)

# %%
# The files the job wrote and the corrections it kept.
for path in sorted((folder / "residuals").rglob("*")):
    if path.is_file():
        print(path.relative_to(folder))
saved = json.loads((folder / "residuals/corrections.json").read_text())
for c in saved["corrections"]:
    print(f"{c['coefficient']:+.3f} * {c['expression']}  ({c['explanation']})")
print("validation scores:", saved["validation_scores"])

# %%
# The search trace: every formula tried and what became of it.
trace = pd.read_csv(folder / "residuals/trace.csv")
trace[
    ["round", "step", "formula", "validation_loss", "status", "reason"]
].head(10)

# %%
# The figures of the job's HTML report (``report/index.html``), as the job wrote them.
for png in sorted((folder / "residuals/report").glob("figure-*.png")):
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
