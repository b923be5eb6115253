"""
``tabsift fit-rules``: learn a Boolean rule on a table
======================================================

The job learns one Boolean rule per class with
:class:`~tabsift.rules.BooleanRuleClassifier` and writes the rule as text and JSON, an
explanation per row and an HTML report. Here it runs on R's ``MASS/Pima.tr`` table (200
women of Pima heritage, tested for diabetes) exactly as shipped, R row names included.
The shell command is

.. code-block:: console

    $ tabsift fit-rules pima.csv --target type --out rules
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
(folder / "pima.csv").write_bytes(load_r_table("MASS/Pima.tr", raw=True))
print(pd.read_csv(folder / "pima.csv").head())

exit_code = main(
    [
        "fit-rules",
        str(folder / "pima.csv"),
        "--target",
        "type",
        "--out",
        str(folder / "rules"),
    ]
)
print("exit code:", exit_code)

# %%
# The files the job wrote, the rule, and why the first rows got their prediction.
for path in sorted((folder / "rules").rglob("*")):
    if path.is_file():
        print(path.relative_to(folder))
print((folder / "rules/rule.txt").read_text())
pd.read_csv(folder / "rules/explanation.csv").head()

# %%
# The figures of the job's HTML report (``report/index.html``), as the job wrote them.
for png in sorted((folder / "rules/report").glob("figure-*.png")):
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
