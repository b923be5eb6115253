"""KANSelector: it finds the informative columns, follows sklearn's selector API, fails clearly."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tabsift.datasets import make_informative
from tabsift.feature_selection import KANSelector

# Settings found robust on make_informative(400, 8, 3) for every method, task and seed tried
# (48 fits, smallest informative/noise score ratio 1.09), at about 0.8 s a fit on one core.
FAST = dict(epochs=30, cv=3, random_state=0)


def _data(task, random_state=0):
    return make_informative(
        n_samples=400, n_features=8, n_informative=3, task=task, random_state=random_state
    )


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    return X, y


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("method", ["l1", "l2", "si", "ko"])
def test_every_method_ranks_the_informative_columns_first(method, task):
    data = _data(task)
    selector = KANSelector(method, n_features_to_select=3, **FAST).fit(data.data, data.target)
    assert sorted(selector.get_feature_names_out()) == sorted(data.informative)
    assert selector.task_ == task
    # Fitted attributes are consistent with each other.
    assert selector.scores_.sum() == pytest.approx(1.0)
    assert selector.scores_per_fold_.shape == (3, 8)
    np.testing.assert_allclose(selector.scores_per_fold_.sum(axis=1), 1.0)
    np.testing.assert_allclose(selector.scores_, selector.scores_per_fold_.mean(axis=0))
    assert sorted(selector.ranking_) == list(range(1, 9))
    informative = [data.feature_names.index(c) for c in data.informative]
    assert set(selector.ranking_[informative]) == {1, 2, 3}
    assert len(selector.models_) == 3
    assert selector.fold_losses_.shape == (3,)
    if task == "classification":
        np.testing.assert_array_equal(selector.classes_, [0, 1])
    else:
        assert not hasattr(selector, "classes_")


@pytest.mark.parametrize("method", ["l1", "l2"])
def test_coefficient_reading_also_finds_them(method):
    data = _data("regression", random_state=1)
    selector = KANSelector(method, n_features_to_select=3, reading="coefficients", **FAST)
    selector.fit(data.data, data.target)
    assert sorted(selector.get_feature_names_out()) == sorted(data.informative)


def test_knocking_out_an_informative_feature_hurts_more_than_a_noise_feature():
    data = _data("classification")
    selector = KANSelector("l2", **FAST).fit(data.data, data.target)
    X = data.data.to_numpy()
    informative = [data.feature_names.index(c) for c in data.informative]
    noise = [j for j in range(8) if j not in informative]
    import torch

    for engine, mean, scale in zip(
        selector.models_, selector.x_mean_per_fold_, selector.x_scale_per_fold_, strict=True
    ):
        Xs = torch.as_tensor((X - mean) / scale, dtype=torch.float32)
        ko = engine.knockout_losses(Xs, torch.as_tensor(data.target.to_numpy().copy()))
        assert ko[informative].min() > 4 * ko[noise].max()
        assert ko[informative].min() > 0.02  # a real loss increase, in nats


def test_same_random_state_same_scores_and_different_seed_differs(small):
    X, y = small
    params = dict(epochs=5, cv=2)
    a = KANSelector(random_state=3, **params).fit(X, y)
    b = KANSelector(random_state=3, **params).fit(X, y)
    c = KANSelector(random_state=4, **params).fit(X, y)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    np.testing.assert_array_equal(a.support_, b.support_)
    assert not np.array_equal(a.scores_, c.scores_)
    # A RandomState instance is accepted, and numpy's global state is left alone.
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checking it is untouched)
    KANSelector(random_state=np.random.RandomState(0), **params).fit(X, y)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_pandas_names_in_names_out_and_pandas_output():
    data = make_informative(n_samples=150, n_features=5, n_informative=2, random_state=0)
    frame = data.data.rename(columns=lambda c: f"col_{c}")
    selector = KANSelector(n_features_to_select=2, epochs=5, cv=2, random_state=0)
    selector.set_output(transform="pandas")
    out = selector.fit_transform(frame, data.target)
    assert isinstance(out, pd.DataFrame)
    names = selector.get_feature_names_out()
    assert list(out.columns) == list(names)
    assert set(names) <= set(frame.columns)
    assert list(selector.feature_names_in_) == list(frame.columns)
    pd.testing.assert_frame_equal(out, frame[list(names)])
    np.testing.assert_array_equal(
        selector.get_support(indices=True), np.flatnonzero(selector.support_)
    )
    # Arrays in: names are x0, x1, ...
    plain = KANSelector(n_features_to_select=2, epochs=5, cv=2, random_state=0)
    plain.fit(frame.to_numpy(), data.target)
    assert all(name.startswith("x") for name in plain.get_feature_names_out())
    np.testing.assert_array_equal(
        plain.transform(frame.to_numpy()), frame.to_numpy()[:, plain.support_]
    )


def test_n_features_to_select_fraction_int_and_threshold(small):
    X, y = small
    X = np.hstack([X, X[:, ::-1] + 0.1])  # 8 columns
    base = dict(epochs=3, cv=2, random_state=0)
    assert KANSelector(n_features_to_select=0.4, **base).fit(X, y).support_.sum() == 3
    assert KANSelector(n_features_to_select=0.3, **base).fit(X, y).support_.sum() == 2
    assert KANSelector(n_features_to_select=0.01, **base).fit(X, y).support_.sum() == 1
    assert KANSelector(n_features_to_select=1.0, **base).fit(X, y).support_.sum() == 8
    assert KANSelector(n_features_to_select=5, **base).fit(X, y).support_.sum() == 5
    fitted = KANSelector(n_features_to_select=2, **base).fit(X, y)
    np.testing.assert_array_equal(fitted.support_, fitted.ranking_ <= 2)
    threshold = float(np.sort(fitted.scores_)[-4])
    thresholded = KANSelector(threshold=threshold, **base).fit(X, y)
    np.testing.assert_array_equal(thresholded.support_, fitted.scores_ >= threshold)
    assert thresholded.support_.sum() == 4
    with pytest.warns(UserWarning, match="No features were selected"):
        assert KANSelector(threshold=1.5, **base).fit(X, y).transform(X).shape == (90, 0)
    with pytest.raises(ValueError, match="n_features_to_select=9 is more than the 8 features"):
        KANSelector(n_features_to_select=9, **base).fit(X, y)


def test_cv_variants(small):
    X, y = small
    none = KANSelector(epochs=3, cv=None, random_state=0).fit(X, y)
    assert none.scores_per_fold_.shape == (1, 4) and len(none.models_) == 1
    one = KANSelector(epochs=3, cv=1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(one.scores_, none.scores_)
    splitter = KANSelector(epochs=3, cv=KFold(4), random_state=0).fit(X, y)
    assert splitter.scores_per_fold_.shape == (4, 4)
    halves = [(np.arange(45), np.arange(45, 90)), (np.arange(45, 90), np.arange(45))]
    iterable = KANSelector(epochs=3, cv=halves, random_state=0).fit(X, y)
    assert iterable.scores_per_fold_.shape == (2, 4)
    np.testing.assert_allclose(iterable.x_mean_per_fold_[0], X[:45].mean(axis=0))


def test_task_inference_and_override():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    labels = np.where(X[:, 0] > 0, "yes", "no")
    fitted = KANSelector(epochs=2, cv=2, random_state=0).fit(X, labels)
    assert fitted.task_ == "classification"
    np.testing.assert_array_equal(fitted.classes_, ["no", "yes"])
    assert fitted.models_[0].n_outputs == 2
    three = KANSelector(epochs=2, cv=2, random_state=0).fit(X, np.digitize(X[:, 0], [-0.5, 0.5]))
    assert three.task_ == "classification" and three.models_[0].n_outputs == 3
    # Whole-number floats with many distinct values are a regression target (prices, counts).
    counts = np.round(10 * X[:, 1] + 50.0)
    assert KANSelector(epochs=2, cv=2, random_state=0).fit(X, counts).task_ == "regression"
    assert KANSelector(epochs=2, cv=2, random_state=0).fit(X, X[:, 1]).task_ == "regression"
    forced = KANSelector(epochs=2, cv=2, task="regression", random_state=0).fit(X, X[:, 0] > 0)
    assert forced.task_ == "regression" and forced.models_[0].n_outputs == 1


def test_constant_columns_score_zero_and_rank_last(small):
    X, y = small
    X = np.hstack([X, np.full((90, 1), 3.0)])
    for method in ("l2", "ko"):
        fitted = KANSelector(method, epochs=3, cv=2, random_state=0).fit(X, y)
        assert fitted.scores_[4] == 0.0
        assert fitted.ranking_[4] == 5
        assert (fitted.scores_per_fold_[:, 4] == 0).all()
    with pytest.raises(ValueError, match="every column of X is constant"):
        KANSelector(epochs=2, cv=2).fit(np.ones((20, 3)), np.arange(20) % 2)


def test_clear_errors(small):
    X, y = small
    base = dict(epochs=2, cv=2)
    frame = pd.DataFrame(X, columns=["age", "income", "height", "weight"])
    frame.loc[3, "income"] = np.nan
    frame.loc[[1, 2], "weight"] = np.inf
    with pytest.raises(
        ValueError,
        match=r"column 'income' has 1 NaN value; column 'weight' has 2 infinite values; "
        r"KANSelector does not accept NaN or infinite values in X: pass missing_values=.impute.",
    ):
        KANSelector(**base).fit(frame, y)
    # Text columns are encoded now; a missing number among them is still named.
    text = pd.DataFrame({"a": X[:, 0], "city": ["x", "y"] * 45, "kind": pd.Categorical(["u"] * 90)})
    text.loc[[2, 5], "a"] = np.nan
    with pytest.raises(ValueError, match=r"column 'a' has 2 NaN values; KANSelector does not"):
        KANSelector(**base).fit(text, y)
    with pytest.raises(ValueError, match="1 class"):
        KANSelector(**base).fit(X, np.zeros(90))
    with pytest.raises(ValueError, match="y is constant"):
        KANSelector(task="regression", **base).fit(X, np.ones(90))
    with pytest.raises(ValueError, match=r"1 feature\(s\)"):
        KANSelector(**base).fit(X[:, :1], y)
    with pytest.raises(ValueError, match="method='pykan'.*needs engine='pykan'"):
        KANSelector("pykan", **base).fit(X, y)
    with pytest.raises(ValueError, match="reading='coefficients' applies to method 'l1' or 'l2'"):
        KANSelector("ko", reading="coefficients", **base).fit(X, y)
    with pytest.raises(ValueError, match="The 'method' parameter"):
        KANSelector("l3", **base).fit(X, y)
    with pytest.raises(ValueError, match="The 'engine' parameter"):
        KANSelector(engine="jax", **base).fit(X, y)
    with pytest.raises(ValueError, match="The 'reading' parameter"):
        KANSelector(reading="weights", **base).fit(X, y)
    with pytest.raises(ValueError, match="grid_range must be two finite numbers"):
        KANSelector(grid_range=(1.0, -1.0), **base).fit(X, y)
    with pytest.raises(ValueError, match="device must be a torch device"):
        KANSelector(device="abacus", **base).fit(X, y)
    with pytest.raises(ValueError, match="y should be a 1d array"):
        KANSelector(**base).fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="Unknown label type"):
        KANSelector(**base).fit(X, y.astype(object))


@pytest.mark.parametrize("engine_explicit", [True, False])
def test_diverging_training_is_a_clear_error(small, engine_explicit, monkeypatch):
    from tabsift.feature_selection._kan_network import TabsiftKANEngine

    monkeypatch.setattr(TabsiftKANEngine, "_explicit_backward", engine_explicit)
    X, y = small
    with pytest.raises(FloatingPointError, match=r"fold 1/2 diverged.*lower learning_rate"):
        KANSelector(epochs=2, cv=2, learning_rate=1e30, random_state=0).fit(X, y)


def test_cuda_request_without_cuda_is_a_clear_error(small):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible here")
    X, y = small
    with pytest.raises(ValueError, match="torch sees no CUDA device"):
        KANSelector(epochs=2, cv=2, device="cuda").fit(X, y)


def test_verbose_shows_progress_and_zero_is_silent(small, capsys):
    X, y = small
    KANSelector(epochs=2, cv=2, random_state=0, verbose=0).fit(X, y)
    assert capsys.readouterr().err == ""
    KANSelector(epochs=2, cv=2, random_state=0, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    # The folds' networks train together: one bar over the epochs of all of them, then
    # one over the folds' scoring, each naming its phase.
    assert "KANSelector: training 2 folds together" in err
    assert "KANSelector: scoring folds" in err
    KANSelector(epochs=2, cv=1, random_state=0, verbose=2).fit(X, y)
    err = capsys.readouterr().err
    assert "KANSelector: training and scoring folds" in err
    assert "KANSelector: training fold 1/1" in err


def test_folds_trained_together_equal_folds_trained_one_by_one(monkeypatch):
    from tabsift.feature_selection._kan_network import TabsiftKANEngine

    data = _data("regression")
    # 400 rows in 3 folds: training sets of 266 and 267 rows, so with batches of 38 one fold
    # takes 7 steps an epoch and the others 8; the joint training must handle both.
    params = dict(method="ko", epochs=6, cv=3, batch_size=38, random_state=2)
    together = KANSelector(**params).fit(data.data, data.target)
    monkeypatch.delattr(TabsiftKANEngine, "fit_together")
    # One at a time and with autograd: the reference for the explicit batched backward.
    monkeypatch.setattr(TabsiftKANEngine, "_explicit_backward", False)
    alone = KANSelector(**params).fit(data.data, data.target)
    np.testing.assert_allclose(together.scores_per_fold_, alone.scores_per_fold_, rtol=1e-4)
    np.testing.assert_allclose(together.fold_losses_, alone.fold_losses_, rtol=1e-5)
    for a, b in zip(together.models_, alone.models_, strict=True):
        np.testing.assert_allclose(a.loss_history_, b.loss_history_, rtol=1e-5)
        for pa, pb in zip(a.network.parameters(), b.network.parameters(), strict=True):
            np.testing.assert_allclose(pa.detach(), pb.detach(), rtol=1e-5, atol=1e-6)


def test_folds_train_one_at_a_time_past_the_memory_budget(monkeypatch, capsys):
    from tabsift.feature_selection import _kan_cross_fit
    from tabsift.feature_selection._kan_network import TabsiftKANEngine

    data = _data("regression")
    params = dict(epochs=4, cv=2, random_state=1)
    together = KANSelector(**params).fit(data.data, data.target)
    calls = []
    original = TabsiftKANEngine.fit_together.__func__
    monkeypatch.setattr(
        TabsiftKANEngine,
        "fit_together",
        classmethod(lambda cls, *a, **k: calls.append(1) or original(cls, *a, **k)),
    )
    # 200 rows x 8 inputs x (SiLU + 3 hat functions), in float32.
    assert together.models_[0].feature_bytes(200) == 200 * 8 * (1 + 3) * 4
    monkeypatch.setattr(_kan_cross_fit, "_JOINT_MEMORY_LIMIT", 1000)
    alone = KANSelector(**params, verbose=1).fit(data.data, data.target)
    assert calls == []
    assert "training folds one at a time" in capsys.readouterr().err
    np.testing.assert_allclose(together.scores_per_fold_, alone.scores_per_fold_, rtol=1e-4)
    monkeypatch.setattr(_kan_cross_fit, "_JOINT_MEMORY_LIMIT", 1 << 40)
    KANSelector(**params).fit(data.data, data.target)
    assert calls == [1]


def test_joint_training_budget_follows_free_gpu_memory(monkeypatch):
    import torch

    from tabsift.feature_selection import _kan_cross_fit

    assert _kan_cross_fit._joint_memory_limit(torch.device("cpu")) == _kan_cross_fit._JOINT_MEMORY_LIMIT
    free = {"bytes": 40 << 30}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (free["bytes"], 80 << 30))
    assert _kan_cross_fit._joint_memory_limit(torch.device("cuda")) == 10 << 30
    free["bytes"] = 1 << 30  # a nearly full GPU: less than the CPU budget
    assert _kan_cross_fit._joint_memory_limit(torch.device("cuda")) == 256 << 20


def test_plots_draw_one_bar_per_feature_and_one_line_per_shape(small):
    X, y = small
    fitted = KANSelector(n_features_to_select=2, epochs=3, cv=2, random_state=0).fit(X, y)
    ax = fitted.plot_importances()
    assert len(ax.patches) == 4
    widths = [p.get_width() for p in ax.patches]
    assert widths == sorted(widths, reverse=True)  # best first, drawn at the top
    np.testing.assert_allclose(sorted(widths), np.sort(fitted.scores_))
    (errorbars,) = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    assert len(errorbars.lines[2][0].get_segments()) == 4  # the fold spread, one per bar
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks[0] == f"x{np.argmin(fitted.ranking_)}"
    assert len(fitted.plot_importances(top=2).patches) == 2

    axes = fitted.plot_shapes(kind="first_layer")
    assert len(axes) == 2  # the selected features
    for a, j in zip(axes, np.flatnonzero(fitted.support_), strict=True):
        assert len(a.lines) == 1
        x = a.lines[0].get_xdata()
        assert x.min() == pytest.approx(X[:, j].min()) and x.max() == pytest.approx(X[:, j].max())
    from matplotlib.figure import Figure

    own = Figure().subplots(1, 3)
    drawn = fitted.plot_shapes(features=[0, "x3"], axes=own, kind="first_layer")
    assert len(drawn) == 2 and all(len(a.lines) == 1 for a in drawn)
    with pytest.raises(ValueError, match="unknown feature 'nope'"):
        fitted.plot_shapes(features=["nope"])
    with pytest.raises(ValueError, match="kind must be"):
        fitted.plot_shapes(kind="nope")


def _curve(ax):
    return np.asarray(ax.lines[0].get_ydata())


def test_response_shapes_follow_the_planted_function():
    # y rises with x0, falls with x1, ignores x2: the composed response must show it.
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(400, 3))
    y = 3.0 * X[:, 0] - 2.0 * X[:, 1] + 10.0 + rng.normal(scale=0.1, size=400)
    fitted = KANSelector(
        n_features_to_select=2, epochs=60, cv=2, learning_rate=1e-2, random_state=0
    ).fit(X, y)
    axes = fitted.plot_shapes(features=[0, 1, 2])
    rise, fall, flat = (_curve(a) for a in axes)
    # In y's units: the ends of x0's curve differ by about 3 * 4 = 12, x1's by -8.
    assert 8 < rise[-1] - rise[0] < 16
    assert -11 < fall[-1] - fall[0] < -5
    assert abs(flat[-1] - flat[0]) < 2
    # Around the target's mean, not the standardised 0.
    assert 6 < rise.mean() < 14
    # One band (the spread over folds) per panel.
    assert all(len(a.collections) == 1 for a in axes)


def test_response_shapes_for_binary_and_multiclass(small):
    X, y = small
    fitted = KANSelector(epochs=30, cv=2, learning_rate=1e-2, random_state=0).fit(X, y)
    (ax,) = fitted.plot_shapes(features=[0])
    # y = x0 - x1 > 0: the log-odds of class 1 rise with x0.
    assert _curve(ax)[-1] > _curve(ax)[0]
    assert "log-odds of 1" in ax.get_ylabel()
    y3 = np.digitize(X[:, 0], [-0.5, 0.5])
    fitted3 = KANSelector(epochs=3, cv=2, random_state=0).fit(X, y3)
    (ax3,) = fitted3.plot_shapes(features=[0])
    assert len(ax3.lines) == 3  # one centred logit per class


def test_fitted_selector_pickles_and_works_in_a_pipeline(small):
    X, y = small
    pipe = make_pipeline(
        StandardScaler(), KANSelector(n_features_to_select=2, epochs=3, cv=2, random_state=0)
    )
    out = pipe.fit_transform(X, y)
    assert out.shape == (90, 2)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.transform(X), out)
    np.testing.assert_array_equal(restored[-1].scores_, pipe[-1].scores_)


def _no_host_copy(monkeypatch):
    """Make every conversion of an array_api_strict array to NumPy fail loudly."""
    import array_api_strict

    array_type = type(array_api_strict.asarray([0.0]))

    def refuse(*args, **kwargs):
        raise AssertionError("X was copied to a NumPy array")

    monkeypatch.setattr(array_type, "__array__", refuse)
    monkeypatch.setattr(array_type, "__buffer__", refuse, raising=False)


@pytest.mark.parametrize("library", ["torch", "array_api_strict"])
def test_device_arrays_go_in_through_dlpack_and_give_the_numpy_scores(library, monkeypatch):
    torch = pytest.importorskip("torch")
    xp = pytest.importorskip(library)
    data = _data("classification")
    X, y = data.data.to_numpy(), data.target.to_numpy()
    reference = KANSelector(**FAST).fit(X, y)
    X_dev = torch.tensor(X) if library == "torch" else xp.asarray(X)
    if library == "array_api_strict":
        _no_host_copy(monkeypatch)  # y is small and is brought to NumPy; X must not be
        with pytest.raises(AssertionError, match="copied to a NumPy array"):
            np.asarray(X_dev)
    selector = KANSelector(**FAST).fit(X_dev, y)
    np.testing.assert_array_equal(selector.scores_, reference.scores_)
    np.testing.assert_array_equal(selector.support_, reference.support_)
    assert selector.n_features_in_ == 8 and not hasattr(selector, "feature_names_in_")
    assert list(selector.get_feature_names_out()) == [
        f"x{j}" for j in np.flatnonzero(reference.support_)
    ]
    # transform slices where the data lives and keeps its type.
    out = selector.transform(X_dev)
    assert type(out) is type(X_dev) and tuple(out.shape) == (400, reference.support_.sum())
    if library == "torch":
        np.testing.assert_array_equal(out.numpy(), reference.transform(X))
    with pytest.raises(ValueError, match=r"fitted on 8 features; pass the same columns"):
        selector.transform(X_dev[:, :3])
    selector.set_output(transform="pandas")
    with pytest.raises(ValueError, match="builds a host table, but X is a"):
        selector.transform(X_dev)


def test_device_arrays_get_the_same_clear_errors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    bad = torch.tensor(X)
    bad[3, 2] = float("nan")
    bad[[4, 5], 0] = float("inf")
    with pytest.raises(
        ValueError, match=r"column 'x0' has 2 infinite values; column 'x2' has 1 NaN value"
    ):
        KANSelector(epochs=2, cv=2).fit(bad, y)
    with pytest.raises(ValueError, match="Expected a 2D array for X"):
        KANSelector(epochs=2, cv=2).fit(torch.tensor(X[:, 0]), y)
    with pytest.raises(ValueError, match=r"1 feature\(s\)"):
        KANSelector(epochs=2, cv=2).fit(torch.tensor(X[:, :1]), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        KANSelector(epochs=2, cv=2).fit(torch.tensor(X), y[:50])


def test_auto_device_follows_the_data():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    selector = KANSelector(epochs=2, cv=2, device="auto", random_state=0).fit(torch.tensor(X), y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert selector.models_[0].device.type == expected


@pytest.mark.gpu
def test_cupy_input_trains_on_its_gpu_without_a_host_copy():
    cupy = pytest.importorskip("cupy")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device visible to torch")
    data = _data("regression")
    X, y = data.data.to_numpy(), data.target.to_numpy()
    reference = KANSelector(**FAST).fit(X, y)
    X_gpu = cupy.asarray(X)
    selector = KANSelector(**FAST, device="auto").fit(X_gpu, cupy.asarray(y))
    assert selector.models_[0].device.type == "cuda"
    # Same informative columns as on the CPU (float32 on another device: not bit-identical).
    assert set(np.flatnonzero(selector.support_)) == set(np.flatnonzero(reference.support_))
    out = selector.transform(X_gpu)
    assert isinstance(out, cupy.ndarray) and out.shape == (400, selector.support_.sum())
    # Asking for the CPU with data on the GPU works, and says that it copies.
    with pytest.warns(UserWarning, match="copies it to the host and trains on the CPU"):
        on_cpu = KANSelector(**FAST, device="cpu").fit(X_gpu, y)
    assert on_cpu.models_[0].device.type == "cpu"
