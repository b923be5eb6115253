"""KANSelector's cross-fitting: one network per fold, trained, then scored on held-out rows.

Folds train together, as one batched network, when the engine can and the
first-layer features of every fold fit the memory budget; otherwise one
after another. Each fold's network then scores the features on its
held-out rows; the normalised fold scores are averaged into ``scores_``.
"""

import numbers
import sys

import numpy as np

from tabsift.feature_selection._common import rank_scores, ranked_support
from tabsift.feature_selection._engine import _make_engine
from tabsift.feature_selection._importance import compute_scores, normalise
from tabsift.table import cv_splitter
from tabsift.utils import progress, progress_settings

# Largest first-layer feature memory, summed over folds, for which folds train together.
_JOINT_MEMORY_LIMIT = 2 << 30


def _joint_memory_limit(device):
    """Return the bytes of first-layer features the folds may hold at once to train together.

    On the CPU a fixed budget; on a GPU a quarter of the memory free there
    (more than the CPU budget on a large GPU: joint training is what keeps a
    GPU busy with small networks; less on a nearly full one).
    """
    if device.type == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info(device)
        return free // 4
    return _JOINT_MEMORY_LIMIT


def _check_converged(engine, fold, n_folds, learning_rate):
    """Raise when a fold's training loss stopped being a finite number."""
    history = np.asarray(getattr(engine, "loss_history_", []), dtype=float)
    bad = np.flatnonzero(~np.isfinite(history))
    if bad.size:
        raise FloatingPointError(
            f"KANSelector: the network of fold {fold + 1}/{n_folds} diverged (training loss "
            f"{history[bad[0]]} at epoch {bad[0] + 1}); lower learning_rate (now "
            f"{learning_rate!r}) or clip extreme values in X."
        )


def fold_splits(cv, n_samples, y, task, seed):
    """Return the ``(train, test)`` index pairs of ``cv``; 1 or None: all rows, twice."""
    if cv is None or (isinstance(cv, numbers.Integral) and cv == 1):
        everything = np.arange(n_samples)
        return [(everything, everything)]
    # Splitters only count X's rows: a placeholder keeps device arrays where they are.
    X = np.empty((n_samples, 0))
    return list(cv_splitter(cv, task, random_state=seed, y=y).split(X, y))


def make_models(selector, seeds, *, n_inputs, n_outputs, hidden, task, device):
    """Return one untrained network engine per fold, seeded by ``seeds``."""
    return [
        _make_engine(
            selector.engine,
            n_inputs=n_inputs,
            n_outputs=n_outputs,
            hidden_width=hidden,
            grid_size=selector.grid_size,
            spline_order=selector.spline_order,
            grid_range=tuple(float(v) for v in selector.grid_range),
            task=task,
            device=device,
            seed=int(seed),
        )
        for seed in seeds
    ]


def _training_settings(selector, early):
    """Return the keyword arguments of early stopping, empty when it is off."""
    if not early:
        return {}
    return {"n_iter_no_change": selector.n_iter_no_change, "tol": selector.tol}


def train_jointly(selector, models, prepared, device, verbose, early, weighted):
    """Train every fold's network together when the engine can and memory allows.

    Small networks cost mostly fixed per-step overhead: an engine that can
    train all folds' networks as one batched network (same results) does
    so. Returns whether it did.
    """
    fit_together = getattr(type(models[0]), "fit_together", None) if len(models) > 1 else None
    if fit_together is None:
        return False
    # Joint training holds every fold's first-layer features at once, (cv - 1) times
    # the data; past the budget, folds train one after another in less memory.
    joint = sum(m.feature_bytes(f.X_train.shape[0]) for m, f in zip(models, prepared, strict=True))
    if joint > _joint_memory_limit(device):
        if progress_settings(verbose)[0]:
            print(
                f"KANSelector: training folds one at a time (joint training would hold "
                f"{joint / 2**30:.1f} GiB of features)",
                file=sys.stderr,
            )
        return False
    stop_note = ", stops early" if early else ""
    epoch_bar = progress(
        total=selector.epochs,
        verbose=verbose,
        desc=f"KANSelector: training {len(models)} folds together{stop_note}",
        unit="epoch",
    )
    extra = {"sample_weights": [f.w_train for f in prepared]} if weighted else {}
    if early:
        extra["validations"] = [f.validation for f in prepared]
    fit_together(
        models,
        [(f.X_train, f.y_train) for f in prepared],
        progress=lambda _epoch: epoch_bar.update(1),
        epochs=selector.epochs,
        batch_size=selector.batch_size,
        learning_rate=selector.learning_rate,
        **extra,
        **_training_settings(selector, early),
    )
    epoch_bar.close()
    return True


def train_and_score(selector, models, prepared, joint, verbose, early, weighted, features):
    """Train each fold's network (unless trained jointly) and score its held-out rows.

    Returns the normalised scores and the held-out loss of each fold.
    """
    groups, n_features, varies = features
    phase = "scoring folds" if joint else "training and scoring folds"
    fold_bar = progress(
        total=len(models), verbose=verbose, desc=f"KANSelector: {phase}", unit="fold"
    )
    fold_scores, losses = [], []
    for i, (engine, fold) in enumerate(zip(models, prepared, strict=True)):
        if not joint:
            _train_fold(selector, engine, fold, (i, len(models)), verbose, early, weighted)
        _check_converged(engine, i, len(models), selector.learning_rate)
        raw = compute_scores(
            engine, selector.method, selector.reading, fold.X_test, fold.y_test, groups,
            n_features, fold.w_test,
        )
        # Constant columns carry no information, whatever the network made of them.
        fold_scores.append(normalise(raw, mask=varies))
        losses.append(
            engine.loss(fold.X_test, fold.y_test, sample_weight=fold.w_test)
            if weighted
            else engine.loss(fold.X_test, fold.y_test)
        )
        fold_bar.update(1)
    fold_bar.close()
    return fold_scores, losses


def _train_fold(selector, engine, fold, position, verbose, early, weighted):
    """Train one fold's network alone; ``position`` is (fold index, number of folds)."""
    i, n_folds = position
    epoch_bar = progress(
        total=selector.epochs,
        # Explicit -vv shows each fold's epochs; "auto" shows them when the fold is long.
        verbose=verbose if verbose == "auto" else verbose >= 2,
        desc=f"KANSelector: training fold {i + 1}/{n_folds}",
        unit="epoch",
    )
    extra = {"sample_weight": fold.w_train} if weighted else {}
    if early:
        extra["validation"] = fold.validation
    engine.fit(
        fold.X_train,
        fold.y_train,
        progress=lambda _epoch: epoch_bar.update(1),
        epochs=selector.epochs,
        batch_size=selector.batch_size,
        learning_rate=selector.learning_rate,
        **extra,
        **_training_settings(selector, early),
    )
    epoch_bar.close()


def record_scores(selector, fold_scores, varies):
    """Set ``scores_`` (the folds' mean, renormalised), ``ranking_`` and ``support_``."""
    selector.scores_per_fold_ = np.asarray(fold_scores)
    selector.scores_ = normalise(selector.scores_per_fold_.mean(axis=0), mask=varies)
    selector.ranking_ = rank_scores(selector.scores_)
    selector.support_ = ranked_support(selector)


def record_networks(selector, models, prepared, losses, early):
    """Set the fitted attributes of the fold networks: the models and how their data was scaled."""
    selector.models_ = models
    selector.early_stopping_ = early
    selector.n_iter_ = np.asarray([getattr(m, "n_iter_", selector.epochs) for m in models])
    selector.fold_losses_ = np.asarray(losses)
    selector.x_mean_per_fold_ = np.asarray([f.mean for f in prepared])
    selector.x_scale_per_fold_ = np.asarray([f.scale for f in prepared])
    # Regression targets are standardised per fold; plots map outputs back to y's units.
    y_stats = np.asarray([f.y_stats for f in prepared])
    selector.y_mean_per_fold_, selector.y_scale_per_fold_ = y_stats[:, 0], y_stats[:, 1]
