"""
Selecting rows that match a target sample (DSIR)
================================================

:class:`~tabsift.sampling.ImportanceResampler` selects, from a large mixed pool, the rows
whose distribution matches a small unlabelled target sample: data selection with
importance resampling (DSIR), for tables and text. Every row becomes hashed tokens
(quantile bins of the numbers, categories, words of the text); rows are drawn without
replacement in proportion to ``p_target(x) / p_pool(x)``.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from imblearn.pipeline import make_pipeline
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression

from tabsift.datasets import make_domain_shift
from tabsift.sampling import ImportanceResampler

data = make_domain_shift(n_pool=4000, n_target=400, random_state=0)
print(data.DESCR)

sampler = ImportanceResampler(data.target, n_samples=500, random_state=0)
selected, _ = sampler.fit_resample(data.pool)
in_target_domain = data.pool_domain == data.target_domain
print(sampler.column_kinds_)
print(
    f"target domain in the pool: {in_target_domain.mean():.1%}, "
    f"in the selection: {in_target_domain.iloc[sampler.sample_indices_].mean():.1%}"
)
print(
    f"KL(target||pool) = {sampler.kl_target_pool_:.3f}, KL(target||selection) = "
    f"{sampler.kl_target_selected_:.3f} nats"
)

# %%
# Does it help a downstream model?
# --------------------------------
# Give every domain its own labelling rule. A model trained on the selected rows learns
# the target domain's rule; one trained on as many random rows learns a mixture. In an
# imbalanced-learn pipeline the resampler acts only during ``fit``.
numeric = [f"x{i}" for i in range(6)]
centres = data.pool[numeric].groupby(data.pool_domain.to_numpy()).mean()
rules = {
    d: np.random.RandomState(i).normal(size=6)
    for i, d in enumerate(data.domains)
}


def label(frame, domains):
    domains = list(domains)
    shifted = frame[numeric].to_numpy() - centres.loc[domains].to_numpy()
    return (shifted * np.stack([rules[d] for d in domains])).sum(axis=1) > 0


y_pool = label(data.pool, data.pool_domain)
y_target = label(data.target, [data.target_domain] * len(data.target))
model = make_pipeline(
    ImportanceResampler(data.target, n_samples=500, random_state=0),
    make_column_transformer(("passthrough", numeric)),
    LogisticRegression(),
).fit(data.pool, y_pool)
random_rows = data.pool.sample(500, random_state=0).index
baseline = LogisticRegression().fit(
    data.pool.loc[random_rows, numeric], y_pool[random_rows]
)
print(
    f"accuracy on the target domain, DSIR rows:   {model.score(data.target, y_target):.3f}"
)
print(
    f"accuracy on the target domain, random rows: {baseline.score(data.target[numeric], y_target):.3f}"
)

# %%
# The figures: the tokens whose frequency differs most between target and pool
# (``plot``), and the log importance weights of the pool rows by domain.
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
sampler.plot(ax=axes[0], n_features=10)
w = sampler.log_importance_weights_
bins = np.linspace(w.min(), w.max(), 60)
axes[1].hist(w[~in_target_domain], bins=bins, alpha=0.6, label="other domains")
axes[1].hist(
    w[in_target_domain], bins=bins, alpha=0.6, label=data.target_domain
)
axes[1].set(xlabel="log importance weight", ylabel="pool rows")
axes[1].legend()
plt.show()

# sphinx_gallery_multi_image = "single"
