"""Importance resampling in worker processes selects what one process selects."""

import numpy as np
import pandas as pd
import pytest

from tabsift.sampling import ImportanceResampler
from tabsift.sampling._dsir_model import effective_n_jobs, map_in_processes
from tabsift.sampling._dsir_stream import select_streaming


def _texts(n, seed, sport_share):
    rng = np.random.default_rng(seed)
    sport = "the match goal coach league striker penalty season fans stadium".split()
    money = "the bank rates bond yields stocks market inflation fund profit".split()
    texts = []
    for i in range(n):
        words = sport if rng.random() < sport_share else money
        size = int(rng.integers(3, 30))
        texts.append(" ".join(rng.choice(words, size=size)) + ("!" if i % 3 else ", é."))
    return texts


@pytest.fixture(scope="module")
def text_pool():
    return _texts(3_000, 0, 0.15), _texts(200, 1, 1.0)


@pytest.mark.parametrize("fit_sample_size", [None, 700])
@pytest.mark.parametrize("top_k", [False, True])
def test_two_workers_select_what_one_process_selects(text_pool, fit_sample_size, top_k):
    pool, target = text_pool
    params = dict(n_samples=300, random_state=5, fit_sample_size=fit_sample_size,
                  top_k=top_k, chunk_size=1_000)
    one = ImportanceResampler(target, **params).fit(pool)
    two = ImportanceResampler(target, n_jobs=2, **params).fit(pool)
    np.testing.assert_array_equal(two.sample_indices_, one.sample_indices_)
    np.testing.assert_array_equal(two.log_importance_weights_, one.log_importance_weights_)
    assert two.kl_reduction_ == one.kl_reduction_
    np.testing.assert_array_equal(two.score_samples(pool[:500]), one.score_samples(pool[:500]))
    # the selection is the sport text the target holds
    sport = np.array(["bank" not in t and "stocks" not in t and "rates" not in t for t in pool])
    assert sport[one.sample_indices_].mean() > 0.9 > 0.3 > sport.mean()


def test_streamed_selection_in_workers_equals_one_process(text_pool):
    pool, target = text_pool
    frame = pd.DataFrame({"text": pool, "n": np.arange(len(pool))})

    def open_chunks():
        for start in range(0, len(frame), 700):
            yield frame.iloc[start : start + 700]

    results = [
        select_streaming(ImportanceResampler(target, n_samples=250, random_state=2, n_jobs=j),
                         open_chunks)
        for j in (1, 2)
    ]
    np.testing.assert_array_equal(results[1].indices, results[0].indices)
    np.testing.assert_array_equal(results[1].log_weights, results[0].log_weights)
    in_memory = ImportanceResampler(target, n_samples=250, random_state=2).fit(pool)
    np.testing.assert_array_equal(results[0].indices, in_memory.sample_indices_)


def _square(x, offset):
    return x * x + offset


def test_map_in_processes_keeps_the_order_of_the_items():
    items = list(range(23))
    expected = [x * x + 1 for x in items]
    assert list(map_in_processes(_square, iter(items), 1, 1)) == expected
    assert list(map_in_processes(_square, iter(items), 3, 1)) == expected


def test_effective_n_jobs():
    assert effective_n_jobs(None) == 1
    assert effective_n_jobs(3) == 3
    assert effective_n_jobs(-1) >= 1
    assert effective_n_jobs(-1) == effective_n_jobs(-2) + 1 or effective_n_jobs(-2) == 1
