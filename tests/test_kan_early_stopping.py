"""KANSelector's early stopping on held-out loss, and its progress bars (issues 17 and 19)."""

import pickle

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from tabsift.datasets import make_informative
from tabsift.feature_selection import KANSelector

# KANSelector(epochs=5, cv=2, random_state=0) on make_informative(300, 5, 2, random_state=0),
# computed with the code as it was before early stopping existed (git HEAD of issue 19's work).
PINNED_SCORES = [0.16705335945750946, 0.17901967506674424, 0.22205447346937168,
                 0.2469514716579353, 0.1849210203484392]


@pytest.fixture(scope="module")
def easy():
    """A problem a KAN learns in a few epochs: the class is the sign of one column."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5))
    return X, (X[:, 0] > 0).astype(int)


def test_early_stopping_stops_early_and_keeps_the_best_epoch(easy):
    X, y = easy
    selector = KANSelector(
        n_features_to_select=1, epochs=300, cv=2, early_stopping=True, n_iter_no_change=5, learning_rate=1e-2,
        random_state=0,
    ).fit(X, y)
    assert selector.early_stopping_ is True
    assert selector.n_iter_.shape == (2,)
    assert (selector.n_iter_ < 300).all()
    for engine, ran in zip(selector.models_, selector.n_iter_, strict=True):
        history = engine.validation_loss_history_
        assert len(history) == len(engine.loss_history_) == ran
        # Stopped after n_iter_no_change epochs without improving on its best epoch...
        assert engine.best_epoch_ == ran - 5
        assert np.argmin(history) + 1 == engine.best_epoch_
    assert selector.get_support(indices=True).tolist() == [0]


def test_restored_weights_are_those_of_the_best_epoch():
    """One network alone (cv=1) so that its held-out rows can be rebuilt and scored again."""
    import torch

    from tabsift.feature_selection._kan_network import TabsiftKANEngine

    rng = np.random.default_rng(1)
    X = torch.tensor(rng.normal(size=(400, 4)), dtype=torch.float32)
    y = (X[:, 0] + 0.3 * X[:, 1] > 0).long()
    engine = TabsiftKANEngine(
        n_inputs=4, n_outputs=2, hidden_width=9, grid_size=2, spline_order=1,
        grid_range=(-1, 1), task="classification", device="cpu", seed=3,
    )
    engine.fit(
        X[:300], y[:300], epochs=200, batch_size=32, learning_rate=3e-2,
        validation=(X[300:], y[300:]), n_iter_no_change=4,
    )
    assert engine.n_iter_ < 200
    best = min(engine.validation_loss_history_)
    assert engine.loss(X[300:], y[300:]) == pytest.approx(best, rel=1e-5)


def test_early_stopping_off_trains_every_epoch_as_before(easy):
    X, y = easy
    params = dict(epochs=7, cv=3, random_state=0)
    off = KANSelector(**params, early_stopping=False).fit(X, y)
    assert off.early_stopping_ is False
    assert off.n_iter_.tolist() == [7, 7, 7]
    assert all(len(m.loss_history_) == 7 for m in off.models_)
    assert not hasattr(off.models_[0], "validation_loss_history_")
    # 600 rows in 3 folds set aside 40 rows each: too few for "auto", which is then off.
    auto = KANSelector(**params).fit(X, y)
    assert auto.early_stopping_ is False
    np.testing.assert_array_equal(auto.scores_per_fold_, off.scores_per_fold_)
    np.testing.assert_array_equal(auto.fold_losses_, off.fold_losses_)


def test_early_stopping_off_reproduces_the_pinned_scores():
    """Scores of the paper's fixed-length training, recorded before early stopping existed."""
    data = make_informative(n_samples=300, n_features=5, n_informative=2, random_state=0)
    selector = KANSelector(epochs=5, cv=2, early_stopping=False, random_state=0)
    selector.fit(data.data, data.target)
    np.testing.assert_allclose(selector.scores_, PINNED_SCORES, rtol=1e-5)


def test_auto_turns_on_for_large_folds_only():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1300, 3))
    y = X[:, 0] + 0.1 * rng.normal(size=1300)
    # cv=5: 1,040 training rows a fold, 104 set aside (>= 100): on.
    assert KANSelector(epochs=3, random_state=0).fit(X, y).early_stopping_ is True
    # cv=2 with validation_fraction=0.1 on 190 rows: 10 set aside: off.
    small = KANSelector(epochs=3, cv=2, random_state=0).fit(X[:190], y[:190])
    assert small.early_stopping_ is False


def test_same_random_state_same_stop(easy):
    X, y = easy
    params = dict(epochs=200, cv=2, early_stopping=True, n_iter_no_change=3, random_state=4)
    a = KANSelector(**params).fit(X, y)
    b = KANSelector(**params).fit(X, y)
    np.testing.assert_array_equal(a.n_iter_, b.n_iter_)
    np.testing.assert_array_equal(a.scores_per_fold_, b.scores_per_fold_)
    c = KANSelector(**{**params, "random_state": 5}).fit(X, y)
    assert not np.array_equal(a.scores_per_fold_, c.scores_per_fold_)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_folds_stopped_together_equal_folds_stopped_one_by_one(monkeypatch, task):
    from tabsift.feature_selection._kan_network import TabsiftKANEngine

    data = make_informative(
        n_samples=400, n_features=5, n_informative=2, task=task, random_state=0
    )
    params = dict(epochs=60, cv=3, early_stopping=True, n_iter_no_change=3,
                  learning_rate=1e-2, random_state=0)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, size=400)
    together = KANSelector(**params).fit(data.data, data.target, sample_weight=weights)
    monkeypatch.delattr(TabsiftKANEngine, "fit_together")
    alone = KANSelector(**params).fit(data.data, data.target, sample_weight=weights)
    np.testing.assert_array_equal(together.n_iter_, alone.n_iter_)
    assert (together.n_iter_ < 60).any()
    np.testing.assert_allclose(together.scores_per_fold_, alone.scores_per_fold_, rtol=1e-4)


def test_early_stopping_with_autograd_splines():
    """Order-2 splines train by autograd, one network at a time; they stop the same way."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    selector = KANSelector(
        epochs=200, cv=1, spline_order=2, early_stopping=True, n_iter_no_change=3,
        learning_rate=1e-2, random_state=0,
    ).fit(X, y)
    (engine,) = selector.models_
    assert selector.n_iter_[0] < 200
    assert engine.best_epoch_ == selector.n_iter_[0] - 3
    pickle.loads(pickle.dumps(selector))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"early_stopping": "yes"}, "early_stopping"),
        ({"validation_fraction": 0.0}, "validation_fraction"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"n_iter_no_change": 0}, "n_iter_no_change"),
        ({"tol": -1e-3}, "tol"),
        ({"verbose": "loud"}, "verbose"),
    ],
)
def test_parameters_are_validated(easy, params, match):
    X, y = easy
    with pytest.raises(InvalidParameterError, match=match):
        KANSelector(epochs=2, cv=2, **params).fit(X, y)


def test_early_stopping_needs_rows_and_the_tabsift_engine(easy):
    X, y = easy
    with pytest.raises(ValueError, match="early_stopping=True needs engine='tabsift'"):
        KANSelector(epochs=2, cv=2, early_stopping=True, engine="pykan").fit(X, y)
    with pytest.raises(ValueError, match="lower validation_fraction"):
        KANSelector(epochs=2, cv=2, early_stopping=True, validation_fraction=0.9).fit(
            X[:4], y[:4]
        )


def test_progress_verbose_zero_is_silent_and_one_names_the_phases(easy, capsys, monkeypatch):
    from tabsift.feature_selection import _kan_params

    X, y = easy
    KANSelector(epochs=3, cv=2, random_state=0, verbose=0).fit(X, y)
    assert capsys.readouterr() == ("", "")
    # The default ("auto") stays silent on a small fit...
    KANSelector(epochs=3, cv=2, random_state=0).fit(X, y)
    assert capsys.readouterr() == ("", "")
    KANSelector(epochs=3, cv=2, random_state=0, verbose=1, early_stopping=True).fit(X, y)
    out, err = capsys.readouterr()
    assert out == ""
    assert "KANSelector: training 2 folds together, stops early" in err
    assert "KANSelector: scoring folds" in err
    # ... and on a fit estimated to last longer than the threshold, shows the bars when
    # someone watches (a terminal or a notebook; pytest's captured stderr is neither).
    from tabsift.utils import _progress

    monkeypatch.setattr(_kan_params, "_AUTO_PROGRESS_SECONDS", 0.0)
    KANSelector(epochs=3, cv=2, random_state=0).fit(X, y)
    assert capsys.readouterr() == ("", "")
    monkeypatch.setattr(_progress, "_someone_watches", lambda: True)
    monkeypatch.setattr(_progress, "AUTO_DELAY", 0.0)
    KANSelector(epochs=3, cv=2, random_state=0).fit(X, y)
    assert "KANSelector: training 2 folds together" in capsys.readouterr().err


def test_auto_progress_estimate_flags_the_long_fit():
    from tabsift.feature_selection._kan_params import resolve_verbose

    selector = KANSelector()
    # 5,000 x 50 with 5 folds: about 12 s of training at 100 epochs on one core.
    assert resolve_verbose(selector, [4000] * 5, 50, 101) == "auto"
    assert resolve_verbose(selector, [320] * 5, 10, 21) == 0
    assert resolve_verbose(KANSelector(verbose=0), [4000] * 5, 50, 101) == 0


def test_auto_progress_on_a_long_fit_trained_fold_by_fold(easy, monkeypatch):
    # A fit estimated long keeps verbose="auto" through to each fold's own epoch bar, which
    # is used when folds train one at a time (pykan, or joint training over the memory
    # budget): that path once compared "auto" with an int.
    from tabsift.feature_selection import _kan_cross_fit, _kan_params

    X, y = easy
    monkeypatch.setattr(_kan_params, "_AUTO_PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(_kan_cross_fit, "_joint_memory_limit", lambda device: 0)
    alone = KANSelector(epochs=3, cv=2, random_state=0).fit(X, y)
    quiet = KANSelector(epochs=3, cv=2, random_state=0, verbose=0).fit(X, y)
    np.testing.assert_allclose(alone.scores_, quiet.scores_)
