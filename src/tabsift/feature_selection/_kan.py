"""KANSelector: keep the features a Kolmogorov-Arnold network relies on."""

import math
import numbers
import sys
import warnings

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from tabsift.feature_selection._common import (
    TableSelectorMixin,
    is_table,
    n_to_keep,
    plain,
    rank_scores,
    validate_table,
)
from tabsift.feature_selection._engine import ENGINES, _make_engine
from tabsift.feature_selection._importance import METHODS, READINGS, compute_scores, normalise
from tabsift.table import (
    check_column_names,
    check_finite_columns,
    cv_splitter,
    encode_table,
    infer_task,
    non_finite_message,
)
from tabsift.table._errors import TableError
from tabsift.utils import progress

# Inputs that stay on their device: handed to torch through DLPack, never copied to NumPy.
_DEVICE_LIBRARIES = ("cupy", "torch", "array_api_strict")


_MISSING_FIX = (
    'pass missing_values="impute" (median plus a missing-value input, scored with its '
    "column), or impute or drop them first"
)


def _has_nan(X):
    """True when plain numeric host input holds a NaN (it then takes the imputing path)."""
    try:
        values = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return bool(np.isnan(values).any())


def _is_device_input(X):
    from tabsift.backend import array_library

    return array_library(X) in _DEVICE_LIBRARIES


# Largest first-layer feature memory, summed over folds, for which folds train together.
_JOINT_MEMORY_LIMIT = 2 << 30


def _joint_memory_limit(device):
    """Bytes of first-layer features the folds may hold at once to train together.

    On the CPU a fixed budget; on a GPU a quarter of the memory free there
    (more than the CPU budget on a large GPU: joint training is what keeps a
    GPU busy with small networks; less on a nearly full one).
    """
    if device.type == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info(device)
        return free // 4
    return _JOINT_MEMORY_LIMIT


def _column_range(X):
    """Each column's minimum and maximum as NumPy arrays (X: NumPy array or torch tensor)."""
    if isinstance(X, np.ndarray):
        return X.min(axis=0), X.max(axis=0)
    low, high = X.aminmax(dim=0)
    return low.double().cpu().numpy(), high.double().cpu().numpy()


def _standardised_fold(X, train, test, device, as_is=None):
    """A fold's rows standardised by its training rows, as float32 tensors on ``device``.

    ``X`` is a float64 NumPy array or a torch tensor (then every step runs on
    its device). Returns ``(X_train, X_test, mean, scale)``, the last two as
    NumPy arrays; a column constant on the training rows keeps scale 1.
    Columns marked in ``as_is`` (NumPy input only) keep their values (mean 0,
    scale 1).
    """
    import torch

    if isinstance(X, np.ndarray):
        mean = X[train].mean(axis=0)
        scale = X[train].std(axis=0)
        scale[~(scale > 0)] = 1.0
        if as_is is not None:
            mean[as_is], scale[as_is] = 0.0, 1.0
        X_train = torch.as_tensor((X[train] - mean) / scale, dtype=torch.float32, device=device)
        X_test = torch.as_tensor((X[test] - mean) / scale, dtype=torch.float32, device=device)
        return X_train, X_test, mean, scale
    rows = X.index_select(0, torch.as_tensor(train, device=X.device)).double()
    held = X.index_select(0, torch.as_tensor(test, device=X.device)).double()
    mean = rows.mean(dim=0)
    scale = rows.std(dim=0, correction=0)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    X_train = ((rows - mean) / scale).to(device=device, dtype=torch.float32)
    X_test = ((held - mean) / scale).to(device=device, dtype=torch.float32)
    return X_train, X_test, mean.cpu().numpy(), scale.cpu().numpy()


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


class KANSelector(TableSelectorMixin, BaseEstimator):
    """Select features by their importance in Kolmogorov-Arnold networks (KAN).

    A small KAN of widths ``[d, hidden_width, n_outputs]`` is trained on each
    cross-validation fold (inputs standardised on the fold's training part);
    the chosen ``method`` scores every feature on the fold's held-out rows,
    each fold's scores are normalised to sum 1 and averaged. The best
    ``n_features_to_select`` features (or those scoring at least
    ``threshold``) are kept.

    Methods (Akazan et al.):

    - ``"l1"`` / ``"l2"`` (KAN-L1, KAN-L2): the size of each feature's
      first-layer functions. With ``reading="contribution"`` it is the mean
      absolute value (L1) or root mean square (L2) of the feature's
      contribution ``c[n, j, o]`` (base plus spline branch) to every hidden
      unit ``o``, over the held-out rows ``n``; with
      ``reading="coefficients"`` it is the L1 / L2 norm of the feature's
      scaled spline coefficients.
    - ``"si"`` (KAN-SI, sensitivity integral): the mean absolute gradient of
      the summed absolute outputs with respect to the feature.
    - ``"ko"`` (KAN-KO, knock-out): how much the held-out loss rises when the
      feature's first-layer weights are set to zero (no retraining), clipped
      at 0.
    - ``"pykan"``: pykan's own attribution scores; needs ``engine="pykan"``.

    Parameters
    ----------
    method : {"l1", "l2", "si", "ko", "pykan"}, default="l2"
        How features are scored (see above).
    n_features_to_select : int or float, default=0.4
        A float in (0, 1] keeps that fraction of the features (rounded down,
        at least 1); an int keeps that many (between 1 and the number of
        features). Ignored when ``threshold`` is given.
    reading : {"contribution", "coefficients"}, default="contribution"
        For ``"l1"``/``"l2"`` only (another method with ``"coefficients"``
        is an error). ``"contribution"`` is what the authors' code computes
        and what produced the paper's numbers: it accounts for the SiLU base
        branch (which the coefficients leave out) and for where the data
        actually lie on each spline. ``"coefficients"`` is the reading of the
        paper's text; it ignores the data and the base branch.
    threshold : float, default=None
        If given, keep every feature whose score (``scores_``, which sums to
        1) is at least ``threshold`` instead of a fixed number; for example
        ``1 / n_features`` keeps the features scoring above the average. A
        threshold above every score keeps no feature.
    hidden_width : int, default=None
        Width of the hidden layer; ``2 * n_features + 1`` by default, as in
        the paper.
    grid_size : int, default=2
        Number of spline grid intervals on ``grid_range``.
    spline_order : int, default=1
        Order of the B-splines (1: piecewise linear).
    grid_range : tuple of float, default=(-1.0, 1.0)
        Range of the fixed spline grid, in standardised units; outside it
        (and the ``spline_order`` extra knots on each side) only the SiLU
        base branch acts.
    epochs : int, default=100
        Training epochs per fold.
    batch_size : int, default=64
        Mini-batch size.
    learning_rate : float, default=1e-3
        Adam's learning rate.
    cv : int, cross-validation generator, iterable or None, default=5
        Folds: an int ``k >= 2`` uses a shuffled :class:`~sklearn.model_selection.StratifiedKFold`
        (classification; plain ``KFold`` when a class has fewer than ``k``
        rows) or :class:`~sklearn.model_selection.KFold` (regression) seeded
        by ``random_state`` (:func:`tabsift.table.cv_splitter`); a splitter object or an
        iterable of ``(train, test)`` index arrays is used as given. ``1`` or
        None trains one network on all rows and scores it on the same rows
        (faster, but scores then reflect what the network memorised).
    task : {"auto", "classification", "regression"}, default="auto"
        ``"auto"`` follows :func:`tabsift.table.infer_task`: text and bool
        targets, and numeric targets with at most 20 distinct whole values,
        are classification; other numeric targets (prices stored as whole
        numbers included) are regression.
    engine : {"tabsift", "pykan"}, default="tabsift"
        The KAN implementation: tabsift's batched efficient-KAN network, or
        the ``pykan`` library (much slower).
    device : str or torch.device, default="cpu"
        Where the networks are trained, for example ``"cuda"``. ``"auto"``
        trains where ``X`` lives when it is a GPU array (CuPy or a CUDA
        tensor), otherwise on the GPU when torch sees one, otherwise on the CPU.
    missing_values : {"error", "impute"}, default="error"
        What a missing number does. ``"error"``: a :class:`~tabsift.table.TableError`
        naming each column and its count (a made-up value would take part in
        the network's fit, and so in the scores). ``"impute"``: the column's
        median stands in, and a 0/1 "missing" input is added next to it;
        both are read as that one column, so its score includes what its
        missingness tells about ``y``. Missing categories are a category of
        their own either way.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds and each fold's network (weights and mini-batch
        order). With an int, two fits give the same scores.
    verbose : int, default=0
        ``1`` shows a progress bar over folds, ``2`` also one over each
        fold's epochs (one over all folds' epochs with ``engine="tabsift"``,
        which trains the folds' networks together).

    Attributes
    ----------
    scores_ : ndarray of shape (`n_features_in_`,)
        Importance of each feature, the average of the folds' normalised
        scores; sums to 1. Constant columns score 0.
    scores_per_fold_ : ndarray of shape (n_folds, `n_features_in_`)
        Each fold's normalised scores.
    ranking_ : ndarray of shape (`n_features_in_`,)
        Rank of each feature by score, 1 for the best; ties go to the
        earlier column.
    support_ : ndarray of bool of shape (`n_features_in_`,)
        The selected features.
    models_ : list of engines
        The trained network of each fold (the ones the scores come from; no
        network is refit on all rows, selection does not need one). Each
        takes the encoded columns (``encoded_feature_names_``) standardised
        with that fold's ``x_mean_per_fold_`` and ``x_scale_per_fold_``.
    fold_losses_ : ndarray of shape (n_folds,)
        Held-out loss of each fold's network (cross-entropy, or squared
        error on the standardised target): a check that the networks learned
        something.
    x_mean_per_fold_, x_scale_per_fold_ : ndarray of shape (n_folds, n_encoded)
        Mean and standard deviation of each encoded column on each fold's
        training rows (1 for a column constant there).
    x_range_ : ndarray of shape (n_encoded, 2)
        Minimum and maximum of each encoded column.
    encoded_feature_names_ : ndarray of str of shape (n_encoded,)
        The network's inputs: the columns of ``X`` for numeric input; for a
        mixed table the numeric columns (as numbers, in their own units) and
        one ``column=category`` indicator per category.
    encoded_groups_ : ndarray of int of shape (n_encoded,)
        The input column (position in ``X``) each network input encodes.
    encoding_steps_ : list of str
        What was done to a mixed table, one sentence each (empty for numeric
        input).
    y_mean_per_fold_, y_scale_per_fold_ : ndarray of shape (n_folds,)
        Mean and standard deviation of the target on each fold's training
        rows (regression; 0 and 1 for classification). The networks predict
        the standardised target.
    task_ : str
        ``"classification"`` or ``"regression"``.
    classes_ : ndarray of shape (n_classes,)
        Class labels (classification only).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    sklearn.feature_selection.SelectFromModel : Select by a fitted model's importances.
    sklearn.feature_selection.RFE : Recursive feature elimination.

    Notes
    -----
    A mixed table (a DataFrame with text, category or bool columns, or
    numbers stored as text with placeholders such as ``?``) is encoded with
    :func:`tabsift.table.encode_table`: numbers stay numbers, each category
    becomes a one-hot input of the network, a missing category being a
    category of its own. The columns a user passed are still what is ranked:
    a categorical column's score reads all its one-hot inputs together, so
    ``get_feature_names_out`` names input columns and ``transform`` of a
    DataFrame returns the kept columns as they were.

    In such a table every column is read by how its effect varies over the
    held-out rows, so that a column with many categories (many one-hot
    inputs, each adding a constant offset) is not favoured for its size: the
    L1/L2 norms are taken of the column's summed contribution centred over
    the rows, SI is the standard deviation of the column's first-order effect
    (``sqrt(g^T C g)`` for the gradient ``g`` over its inputs and their
    covariance ``C``; ``|g|`` for a standardised number), and KO replaces the column's summed contribution by its mean rather than
    zero. One-hot inputs enter
    the network as 0/1, not standardised, which keeps a rare category's
    indicator inside the spline grid. Plain numeric input is read exactly as
    the paper does. KO and SI, which read effects, compare categorical with
    numeric columns best; L1/L2 read function sizes, which barely move from
    their initial values on a short training, and ``reading="coefficients"``
    (the norm of all of a column's coefficients) grows with its number of
    categories.

    A missing number is an error naming the column and the count, unless
    ``missing_values="impute"``: a made-up value takes part in the network's
    fit and so in the scores, so imputing is the user's choice (or that of
    ``tabsift select-features``, which imputes and lists the step in its
    report). Constant and empty
    columns are accepted and score 0, so they are ranked last. At least 2
    columns are needed.

    Scores are computed on held-out rows only, so a selector inside a
    pipeline evaluated by cross-validation never sees the rows it is judged
    on (the paper's code ranked features on all rows before evaluating).

    References
    ----------
    .. [1] A. C. Akazan et al., "Splines-Based Feature Importance in
       Kolmogorov-Arnold Networks: A Framework for Supervised Tabular Data
       Dimensionality Reduction", arXiv:2509.23366, 2025.

    Examples
    --------
    >>> from tabsift.datasets import make_informative
    >>> from tabsift.feature_selection import KANSelector
    >>> data = make_informative(n_samples=300, n_features=6, n_informative=2, random_state=0)
    >>> selector = KANSelector(n_features_to_select=2, epochs=40, cv=3, random_state=0)
    >>> selector = selector.fit(data.data, data.target)
    >>> sorted(selector.get_feature_names_out()) == sorted(data.informative)
    True
    >>> round(float(selector.scores_.sum()), 6)
    1.0

    A mixed table goes in as it is; its columns are ranked and handed back:

    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> table = pd.DataFrame({"grade": rng.choice(["low", "high"], 200),
    ...                       "size": rng.normal(size=200), "noise": rng.normal(size=200)})
    >>> y = (table["grade"] == "high") + table["size"]
    >>> selector = KANSelector("ko", n_features_to_select=2, epochs=20, cv=2, random_state=0)
    >>> selector.fit(table, y).transform(table).columns.tolist()
    ['grade', 'size']
    """

    _parameter_constraints = {
        "method": [StrOptions(set(METHODS))],
        "n_features_to_select": [
            Interval(RealNotInt, 0, 1, closed="right"),
            Interval(numbers.Integral, 1, None, closed="left"),
        ],
        "reading": [StrOptions(set(READINGS))],
        "threshold": [numbers.Real, None],
        "hidden_width": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "grid_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "spline_order": [Interval(numbers.Integral, 1, None, closed="left")],
        "grid_range": [tuple, list],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "cv": [Interval(numbers.Integral, 1, None, closed="left"), "cv_object", None],
        "task": [StrOptions({"auto", "classification", "regression"})],
        "missing_values": [StrOptions({"error", "impute"})],
        "engine": [StrOptions(set(ENGINES))],
        "device": "no_validation",  # a str or torch.device, checked in fit
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        method="l2",
        *,
        n_features_to_select=0.4,
        reading="contribution",
        threshold=None,
        hidden_width=None,
        grid_size=2,
        spline_order=1,
        grid_range=(-1.0, 1.0),
        epochs=100,
        batch_size=64,
        learning_rate=1e-3,
        cv=5,
        task="auto",
        missing_values="error",
        engine="tabsift",
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.method = method
        self.n_features_to_select = n_features_to_select
        self.reading = reading
        self.missing_values = missing_values
        self.threshold = threshold
        self.hidden_width = hidden_width
        self.grid_size = grid_size
        self.spline_order = spline_order
        self.grid_range = grid_range
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.cv = cv
        self.task = task
        self.engine = engine
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------- checks
    def _check_combinations(self):
        if self.method == "pykan" and self.engine != "pykan":
            raise ValueError(
                f"method='pykan' reads pykan's own attribution scores, so it needs "
                f"engine='pykan'; found engine={self.engine!r}. Pass engine='pykan', or choose "
                "method 'l1', 'l2', 'si' or 'ko'."
            )
        if self.reading == "coefficients" and self.method not in ("l1", "l2"):
            raise ValueError(
                f"reading='coefficients' applies to method 'l1' or 'l2' only; found "
                f"method={self.method!r}. Leave reading at its default 'contribution'."
            )
        grid_range = self.grid_range
        ok = len(grid_range) == 2 and all(
            isinstance(v, numbers.Real) and math.isfinite(v) for v in grid_range
        )
        if not ok or not grid_range[0] < grid_range[1]:
            raise ValueError(
                f"grid_range must be two finite numbers (low, high) with low < high; found "
                f"{grid_range!r}."
            )

    def _resolve_device(self, X=None):
        import torch

        if isinstance(self.device, str) and self.device == "auto":
            if X is not None and X.device.type != "cpu":
                return X.device
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError, ValueError) as err:
            raise ValueError(
                f"device must be a torch device or its name, such as 'cpu' or 'cuda'; found "
                f"{self.device!r}."
            ) from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} asks for CUDA, but torch sees no CUDA device "
                "(torch.cuda.is_available() is False); use device='cpu'."
            )
        return device

    def _column_names(self):
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def _validate_fit_data(self, X, y):
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,  # checked below, with the column names
            ensure_min_samples=2,
            ensure_min_features=2,
        )
        check_finite_columns(
            X, feature_names=self._column_names(), owner="KANSelector", fix=_MISSING_FIX
        )
        return X.astype(np.float64, copy=False), y

    def _validate_table_data(self, X, y):
        """Check and encode a mixed table; the encoded columns remember their input column.

        Numbers (numbers stored as text included) are used as they are, the
        fold standardises them; categories and text are one-hot encoded, a
        missing category being a category of its own. A missing number is an
        error naming the column unless ``missing_values="impute"`` (median and
        a missing-value input, read with their column).
        """
        X, y = validate_table(self, X, y, owner="KANSelector", min_features=2)
        encoded = encode_table(
            X,
            owner="KANSelector",
            impute=self.missing_values == "impute",
            standardise=False,
            fix=_MISSING_FIX,
        )
        return encoded, y

    @staticmethod
    def _indicator_inputs(encoded):
        """Network inputs that are one-hot indicators of a category, as a bool mask."""
        categorical = np.array([c.kind in ("categorical", "text") for c in encoded.columns])
        return categorical[encoded.groups] if encoded.groups.size else np.zeros(0, dtype=bool)

    def _check_non_finite_counts(self, n_nan, n_inf):
        """Raise naming the columns with NaN or infinite values (counts: one per column)."""
        bad = np.flatnonzero((n_nan > 0) | (n_inf > 0))
        if not bad.size:
            return
        names = self._column_names()
        raise TableError(
            non_finite_message([names[j] for j in bad], n_nan[bad], n_inf[bad], owner="KANSelector")
        )

    def _validate_device_data(self, X, y):
        """Validate a CuPy, torch or array-API array without leaving its device.

        ``X`` is handed to torch through DLPack (no copy); every check runs
        there, and only per-column counts come back to the host. ``y`` is
        small and is brought to NumPy (the CV splitters need it there).
        """
        from tabsift.backend import to_numpy, to_torch

        try:
            X = to_torch(X)
        except (BufferError, RuntimeError, TypeError) as err:
            raise ValueError(
                f"X of type {type(X).__module__}.{type(X).__name__} could not be handed to "
                f"torch through DLPack ({err}); pass a NumPy array or a contiguous CuPy array."
            ) from err
        if X.ndim != 2:
            raise ValueError(
                f"Expected a 2D array for X, got a {X.ndim}D array of shape {tuple(X.shape)}; "
                "reshape it to (n_samples, n_features)."
            )
        if X.is_complex():
            raise ValueError("X is complex; KANSelector needs real numeric columns.")
        n_samples, n_features = X.shape
        if n_samples < 2:
            raise ValueError(
                f"Found array with {n_samples} sample(s) (shape={tuple(X.shape)}) while a "
                "minimum of 2 is required by KANSelector."
            )
        if n_features < 2:
            raise ValueError(
                f"Found array with {n_features} feature(s) (shape={tuple(X.shape)}) while a "
                "minimum of 2 is required by KANSelector."
            )
        self.n_features_in_ = n_features
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if X.is_floating_point():
            self._check_non_finite_counts(
                to_numpy(X.isnan().sum(dim=0)), to_numpy(X.isinf().sum(dim=0))
            )
        y = column_or_1d(to_numpy(y), warn=True)
        check_consistent_length(np.empty((n_samples, 0)), y)
        return X, y

    def _resolve_task(self, y):
        return infer_task(y, self.task, owner="KANSelector")

    def _encode_target(self, y, task):
        if task == "classification":
            check_classification_targets(y)
            classes, y_idx = np.unique(y, return_inverse=True)
            if classes.size < 2:
                raise TableError(
                    f"y has only 1 class ({plain(classes[0])!r}); KANSelector needs at least 2 "
                    "classes to tell features apart, or task='regression' for a numeric target."
                )
            return classes, y_idx.astype(np.int64)
        try:
            y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"task='regression' needs a numeric target; y has dtype {y.dtype}. Pass "
                "task='classification' for class labels."
            ) from err
        if not np.isfinite(y).all():
            raise ValueError(
                f"y contains {int((~np.isfinite(y)).sum())} NaN or infinite values; drop those "
                "rows or impute the target first."
            )
        if np.ptp(y) == 0:
            raise ValueError(
                "y is constant, so no feature can explain it; KANSelector needs a target that "
                "varies."
            )
        return None, y

    def _n_selected(self, n_features):
        return n_to_keep(self.n_features_to_select, n_features, owner="KANSelector")

    def _splits(self, X, y, task, seed):
        n = X.shape[0]
        cv = self.cv
        if cv is None or (isinstance(cv, numbers.Integral) and cv == 1):
            everything = np.arange(n)
            return [(everything, everything)]
        return list(cv_splitter(cv, task, random_state=seed, y=y).split(X, y))

    # ---------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train one KAN per fold and score every feature on held-out rows.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            At least 2 columns: numbers, or a mixed table (text, categories,
            numbers stored as text). A missing category is allowed, a missing
            number is not (see Notes).
        y : array-like of shape (n_samples,)
            Class labels or a numeric target.

        Returns
        -------
        self : KANSelector
            The fitted selector.

        Raises
        ------
        TableError
            If a numeric column holds missing or infinite values (the message
            names each column and the count), or ``y`` has missing values.
        FloatingPointError
            If a fold's training loss becomes infinite or NaN (a learning rate
            too large for the data); the message names the fold and epoch.
        """
        check_column_names(X, owner="KANSelector")
        self._check_combinations()
        on_device = _is_device_input(X)
        encoded = None
        if on_device:
            X, y = self._validate_device_data(X, y)
        elif is_table(X) or (self.missing_values == "impute" and _has_nan(X)):
            encoded, y = self._validate_table_data(X, y)
            X = encoded.values
        else:
            X, y = self._validate_fit_data(X, y)
        n_features = self.n_features_in_
        indicators = None
        if encoded is None:
            groups = None
            self.encoded_feature_names_ = np.asarray(self._column_names(), dtype=object)
            self.encoded_groups_ = np.arange(n_features)
            self.encoding_steps_ = []
        else:
            groups = encoded.groups
            indicators = self._indicator_inputs(encoded)
            self.encoded_feature_names_ = np.asarray(encoded.names, dtype=object)
            self.encoded_groups_ = np.asarray(groups)
            self.encoding_steps_ = list(encoded.steps)
        task = self._resolve_task(y)
        classes, target = self._encode_target(y, task)
        device = self._resolve_device(X if on_device else None)
        if on_device and X.device.type != "cpu" and device.type == "cpu":
            warnings.warn(
                f"X lives on {X.device} but device={self.device!r}: KANSelector copies it to "
                "the host and trains on the CPU; pass device='auto' (or 'cuda') to train "
                "where the data is.",
                UserWarning,
                stacklevel=2,
            )

        import torch

        n_samples, n_inputs = X.shape
        rng = check_random_state(self.random_state)
        split_seed = int(rng.randint(np.iinfo(np.int32).max))
        # Splitters only count X's rows: a placeholder keeps device arrays where they are.
        folds = self._splits(np.empty((n_samples, 0)), target, task, split_seed)
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(folds))
        x_min, x_max = _column_range(X)
        varies = x_max > x_min
        if groups is not None:
            # A column varies when one of its encoded columns does (empty ones never do).
            by_column = np.zeros(n_features, dtype=bool)
            np.logical_or.at(by_column, groups, varies)
            varies = by_column
        if not varies.any():
            raise ValueError("every column of X is constant; there is nothing to select from.")
        hidden = self.hidden_width if self.hidden_width is not None else 2 * n_inputs + 1
        n_outputs = classes.size if task == "classification" else 1

        models, fold_data, means, scales, y_stats = [], [], [], [], []
        for i, (train, test) in enumerate(folds):
            X_train, X_test, mean, scale = _standardised_fold(X, train, test, device, indicators)
            y_train, y_test = target[train], target[test]
            y_mean, y_scale = 0.0, 1.0
            if task == "regression":
                y_mean, y_scale = y_train.mean(), y_train.std()
                y_scale = y_scale if y_scale > 0 else 1.0
                y_train, y_test = (y_train - y_mean) / y_scale, (y_test - y_mean) / y_scale
            y_dtype = torch.int64 if task == "classification" else torch.float32
            y_train = torch.as_tensor(y_train, dtype=y_dtype, device=device)
            y_test = torch.as_tensor(y_test, dtype=y_dtype, device=device)
            models.append(
                _make_engine(
                    self.engine,
                    n_inputs=n_inputs,
                    n_outputs=n_outputs,
                    hidden_width=hidden,
                    grid_size=self.grid_size,
                    spline_order=self.spline_order,
                    grid_range=tuple(float(v) for v in self.grid_range),
                    task=task,
                    device=device,
                    seed=int(seeds[i]),
                )
            )
            fold_data.append((X_train, y_train, X_test, y_test))
            means.append(mean)
            scales.append(scale)
            y_stats.append((float(y_mean), float(y_scale)))

        training = dict(
            epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate
        )
        fold_bar = progress(
            total=len(folds), verbose=self.verbose, desc="KANSelector folds", unit="fold"
        )
        # Small networks cost mostly fixed per-step overhead: an engine that can train all
        # folds' networks as one batched network (same results) does so.
        fit_together = getattr(type(models[0]), "fit_together", None) if len(models) > 1 else None
        if fit_together is not None:
            # Joint training holds every fold's first-layer features at once, (cv - 1) times
            # the data; past the budget, folds train one after another in less memory.
            joint = sum(
                m.feature_bytes(d[0].shape[0]) for m, d in zip(models, fold_data, strict=True)
            )
            if joint > _joint_memory_limit(device):
                fit_together = None
                if self.verbose:
                    print(
                        f"KANSelector: training folds one at a time (joint training would hold "
                        f"{joint / 2**30:.1f} GiB of features)",
                        file=sys.stderr,
                    )
        if fit_together is not None:
            epoch_bar = progress(
                total=self.epochs,
                verbose=self.verbose >= 2,
                desc=f"training {len(folds)} folds together",
                unit="epoch",
            )
            fit_together(
                models,
                [(X_train, y_train) for X_train, y_train, _, _ in fold_data],
                progress=lambda _epoch: epoch_bar.update(1),
                **training,
            )
            epoch_bar.close()
        fold_scores, losses = [], []
        for i, (engine, (X_train, y_train, X_test, y_test)) in enumerate(
            zip(models, fold_data, strict=True)
        ):
            if fit_together is None:
                epoch_bar = progress(
                    total=self.epochs,
                    verbose=self.verbose >= 2,
                    desc=f"fold {i + 1}/{len(folds)}",
                    unit="epoch",
                )
                engine.fit(
                    X_train,
                    y_train,
                    progress=lambda _epoch, epoch_bar=epoch_bar: epoch_bar.update(1),
                    **training,
                )
                epoch_bar.close()
            _check_converged(engine, i, len(folds), self.learning_rate)
            raw = compute_scores(
                engine, self.method, self.reading, X_test, y_test, groups, n_features
            )
            # Constant columns carry no information, whatever the network made of them.
            fold_scores.append(normalise(raw, mask=varies))
            losses.append(engine.loss(X_test, y_test))
            fold_bar.update(1)
        fold_bar.close()

        self.task_ = task
        if classes is not None:
            self.classes_ = classes
        self.scores_per_fold_ = np.asarray(fold_scores)
        self.scores_ = normalise(self.scores_per_fold_.mean(axis=0), mask=varies)
        self.ranking_ = rank_scores(self.scores_)
        if self.threshold is not None:
            self.support_ = self.scores_ >= self.threshold
        else:
            self.support_ = self.ranking_ <= self._n_selected(n_features)
        self.models_ = models
        self.fold_losses_ = np.asarray(losses)
        self.x_mean_per_fold_ = np.asarray(means)
        self.x_scale_per_fold_ = np.asarray(scales)
        self.x_range_ = np.stack([x_min, x_max], axis=1)
        # Regression targets are standardised per fold; plots map outputs back to y's units.
        y_stats = np.asarray(y_stats)
        self.y_mean_per_fold_, self.y_scale_per_fold_ = y_stats[:, 0], y_stats[:, 1]
        return self

    def transform(self, X):
        """Keep the selected columns of ``X``.

        Numeric NumPy arrays, DataFrames and sparse matrices go through
        scikit-learn's :meth:`~sklearn.feature_selection.SelectorMixin.transform`.
        A mixed table (text or category columns) gives back its kept columns
        as they are, a DataFrame keeping its dtypes and index. CuPy arrays,
        torch tensors and other array-API arrays are sliced where they live,
        without a copy to the host, and returned in the same library.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_features_in_`)

        Returns
        -------
        X_selected : array or DataFrame of shape (n_samples, n_selected)
            Same type as ``X`` (or a DataFrame with ``set_output(transform="pandas")``).
        """
        # Before anything reads X: an unfitted selector says so first.
        check_is_fitted(self, "support_")
        if not _is_device_input(X):
            return super().transform(X)
        config = getattr(self, "_sklearn_output_config", {}).get("transform", "default")
        if config != "default":
            from tabsift.backend import array_library

            raise ValueError(
                f"set_output(transform={config!r}) builds a host table, but X is a "
                f"{array_library(X)} array; pass a NumPy array (for CuPy, "
                "X.get()) or reset with set_output(transform='default')."
            )
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has shape {tuple(X.shape)}, but KANSelector was fitted on "
                f"{self.n_features_in_} features; pass the same columns as in fit."
            )
        from tabsift.backend import device, get_namespace, is_torch_tensor

        columns = np.flatnonzero(self.support_)
        if is_torch_tensor(X):
            import torch

            return X.index_select(1, torch.as_tensor(columns, device=X.device))

        xp = get_namespace(X)
        return xp.take(X, xp.asarray(columns, device=device(X)), axis=1)

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    # -------------------------------------------------------------- plots
    def plot_importances(self, ax=None, top=None):
        """Bar chart of ``scores_``, best first, with the spread over folds.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.
        top : int, default=None
            Show only the ``top`` best features; all by default.

        Returns
        -------
        ax : matplotlib Axes
            Selected features are drawn in a stronger colour; error bars are
            the standard deviation of the fold scores.

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.feature_selection import KANSelector
        >>> X = np.random.default_rng(0).normal(size=(60, 3))
        >>> selector = KANSelector(epochs=2, cv=2, random_state=0).fit(X, X[:, 0] > 0)
        >>> len(selector.plot_importances().patches)
        3
        """
        from tabsift.feature_selection._plot import plot_importances

        return plot_importances(self, ax=ax, top=top)

    def plot_shapes(self, features=None, axes=None, n_points=200, kind="response"):
        """Plot the learned function of each selected feature.

        Two readings of "the function a KAN learned for feature ``j``":

        - ``kind="response"`` (default): the whole network's output as
          ``x_j`` moves over its observed range while the other features stay
          at their training means, through both layers. The line is the mean
          over the fold networks and the band their range. The output is the
          prediction in ``y``'s units (regression), the log-odds of the second
          class (binary) or each class's centred logit (multiclass, one line
          per class).
        - ``kind="first_layer"``: ``phi_j(x)``, the sum over hidden units of
          feature ``j``'s first-layer functions (base plus spline branch) in
          the first fold's network. It shows the univariate pieces the network
          learned, before the second layer combines them.

        Both are drawn in the feature's original units. A categorical
        column of a mixed table gets one point per category (its one-hot
        input set, the others at their training means), with the range over
        folds as error bars.

        Parameters
        ----------
        features : list of int or str, default=None
            Features to plot, by index or name; the selected ones by default.
        axes : matplotlib Axes or array of Axes, default=None
            One Axes per feature; a new figure with one panel per feature by
            default.
        n_points : int, default=200
            Points per curve.
        kind : {"response", "first_layer"}, default="response"
            What to draw, see above.

        Returns
        -------
        axes : ndarray of matplotlib Axes
            One per feature.

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.feature_selection import KANSelector
        >>> X = np.random.default_rng(0).normal(size=(60, 3))
        >>> selector = KANSelector(epochs=2, cv=2, random_state=0).fit(X, X[:, 0] > 0)
        >>> len(selector.plot_shapes(features=[0, 2]))
        2
        >>> len(selector.plot_shapes(features=[0], kind="first_layer")[0].lines)
        1
        """
        from tabsift.feature_selection._plot import plot_shapes

        return plot_shapes(self, features=features, axes=axes, n_points=n_points, kind=kind)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = self.missing_values == "impute"
        # Mixed tables: text and category columns are encoded, and ranked as one feature each.
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        # Seeded through random_state: the same seed gives the same scores.
        tags.non_deterministic = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
