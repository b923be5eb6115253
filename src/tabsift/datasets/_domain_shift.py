"""A raw pool that mixes several domains and a target sample from one of them."""

import numpy as np

from tabsift.datasets._checks import check_int, column_names, make_bunch, random_generator

_DOMAINS = ("retail", "finance", "health", "sports")
_CHANNELS = ("web", "app", "store", "phone", "partner")
_SHARED_WORDS = (
    "the",
    "new",
    "report",
    "update",
    "today",
    "customer",
    "service",
    "team",
    "local",
    "review",
)
_DOMAIN_WORDS = {
    "retail": ("sale", "discount", "order", "shipping", "cart", "return", "price", "brand"),
    "finance": ("loan", "stock", "interest", "bank", "credit", "market", "fund", "rate"),
    "health": ("clinic", "patient", "dose", "symptom", "doctor", "therapy", "vaccine", "care"),
    "sports": ("match", "goal", "league", "coach", "season", "score", "player", "stadium"),
}


def _sample_domain(rng, spec, n):
    """Draw ``n`` rows of one domain: numeric columns, channel, short text."""
    numeric = spec["mean"] + spec["scale"] * rng.standard_normal((n, len(spec["mean"])))
    channel = rng.choice(len(_CHANNELS), size=n, p=spec["channel_p"])
    lengths = rng.randint(3, 8, size=n)
    texts = []
    for length in lengths:
        own = rng.uniform(size=length) < 0.6
        words = [
            _DOMAIN_WORDS[spec["name"]][rng.randint(8)] if o else _SHARED_WORDS[rng.randint(10)]
            for o in own
        ]
        texts.append(" ".join(words))
    return numeric, channel, texts


def _to_frame(names, numeric, channel, texts):
    import pandas as pd

    frame = pd.DataFrame(numeric, columns=names)
    frame["channel"] = pd.Categorical.from_codes(channel, categories=list(_CHANNELS))
    frame["text"] = pd.Series(texts, dtype="str")
    return frame


def make_domain_shift(n_pool=5000, n_target=500, *, n_features=6, random_state=None):
    """Generate a mixed-domain pool and a target sample drawn from one domain.

    Four domains (``"retail"``, ``"finance"``, ``"health"``, ``"sports"``)
    differ in the centre and spread of the numeric columns, in the
    distribution of the categorical ``channel`` column and in the vocabulary
    of the short ``text`` column. The pool mixes all four in random
    proportions (each at least 5 %); the target sample is drawn afresh from
    one domain. Data-selection methods should pick the pool rows that look
    like the target; the pool's domain labels are the ground truth.

    Parameters
    ----------
    n_pool : int, default=5000
        Number of pool rows, at least 4 (one per domain).
    n_target : int, default=500
        Number of target rows, at least 1.
    n_features : int, default=6
        Number of numeric columns ``x0``, ``x1``, ..., at least 1.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``pool`` and ``target`` (DataFrames with the numeric columns,
        ``channel`` and ``text``), ``pool_domain`` (Series of domain names
        aligned with ``pool``), ``target_domain`` (str), ``domains`` (the four
        names), ``feature_names``, ``task`` (``"selection"``) and ``DESCR``.
        Note that ``target`` is the target *sample*, not a label column.

    See Also
    --------
    make_informative : A supervised table with planted informative columns.

    Examples
    --------
    >>> from tabsift.datasets import make_domain_shift
    >>> bunch = make_domain_shift(n_pool=400, n_target=50, random_state=0)
    >>> bunch.pool.shape, bunch.target.shape
    ((400, 8), (50, 8))
    >>> bunch.target_domain in bunch.domains
    True
    >>> list(bunch.pool.columns[-2:])
    ['channel', 'text']
    """
    import pandas as pd

    n_pool = check_int(
        n_pool, "n_pool", min_value=len(_DOMAINS), hint="The pool mixes four domains."
    )
    n_target = check_int(n_target, "n_target", min_value=1)
    n_features = check_int(n_features, "n_features", min_value=1)
    rng = random_generator(random_state)

    names = column_names(n_features)
    specs = [
        {
            "name": name,
            "mean": rng.normal(0.0, 1.5, n_features),
            "scale": rng.uniform(0.7, 1.3, n_features),
            "channel_p": rng.dirichlet(np.full(len(_CHANNELS), 0.7)),
        }
        for name in _DOMAINS
    ]
    proportions = 0.05 + (1.0 - 0.05 * len(_DOMAINS)) * rng.dirichlet(np.full(len(_DOMAINS), 2.0))
    # Every domain gets at least one row, the rest follows the proportions.
    counts = np.ones(len(_DOMAINS), dtype=np.int64)
    counts += rng.multinomial(n_pool - len(_DOMAINS), proportions)
    target_index = rng.randint(len(_DOMAINS))

    parts, labels = [], []
    for spec, count in zip(specs, counts, strict=True):
        parts.append(_to_frame(names, *_sample_domain(rng, spec, count)))
        labels.extend([spec["name"]] * count)
    pool = pd.concat(parts, ignore_index=True)
    order = rng.permutation(n_pool)
    pool = pool.iloc[order].reset_index(drop=True)
    pool_domain = pd.Series(np.asarray(labels, dtype=object)[order], name="domain", dtype="str")
    target = _to_frame(names, *_sample_domain(rng, specs[target_index], n_target))

    target_domain = _DOMAINS[target_index]
    shares = {name: int(c) for name, c in zip(_DOMAINS, counts, strict=True)}
    descr = (
        f"Synthetic data-selection task: a pool of {n_pool} rows mixing the domains "
        f"{shares} (numeric columns {names}, categorical 'channel', short 'text'), and a "
        f"target sample of {n_target} rows from the {target_domain!r} domain."
    )
    return make_bunch(
        pool=pool,
        target=target,
        pool_domain=pool_domain,
        target_domain=target_domain,
        domains=list(_DOMAINS),
        feature_names=[*names, "channel", "text"],
        task="selection",
        DESCR=descr,
    )
