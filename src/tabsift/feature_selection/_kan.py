"""KANSelector: keep the features a Kolmogorov-Arnold network relies on."""

import math
import numbers
import sys
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from tabsift.feature_selection._common import (
    TableSelectorMixin,
    check_weights,
    is_table,
    n_to_keep,
    plain,
    rank_scores,
    validate_table,
)
from tabsift.feature_selection._engine import ENGINES, _make_engine
from tabsift.feature_selection._importance import METHODS, READINGS, compute_scores, normalise
from tabsift.feature_selection._kan_folds import _column_range, _varying_features, prepare_fold
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
from tabsift.utils._progress import progress_settings
from tabsift.utils._sklearn_compat import (
    Interval,
    RealNotInt,
    StrOptions,
    fit_context,
    transform_output,
)

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


# early_stopping="auto" is on when every fold sets aside at least this many rows.
_AUTO_MIN_VALIDATION_ROWS = 100

# verbose="auto" shows progress bars for a fit estimated to take longer than this.
_AUTO_PROGRESS_SECONDS = 5.0

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
        Most training epochs per fold (all of them without early stopping).
    batch_size : int, default=64
        Mini-batch size.
    learning_rate : float, default=1e-3
        Adam's learning rate.
    early_stopping : "auto" or bool, default="auto"
        Stop a fold's training when its loss on held-out training rows stops
        falling, and keep the weights of its best epoch. ``validation_fraction``
        of each fold's training rows (stratified for classification, drawn
        from ``random_state``) are set aside for it and not trained on; the
        scores are still read on the fold's test rows. ``"auto"`` turns it on
        when the set-aside rows of every fold number at least 100 (about 1,250
        rows with ``cv=5``): below that the held-out loss is too noisy to stop
        on, and training is fast anyway. Needs ``engine="tabsift"`` (``"auto"``
        is off with ``engine="pykan"``). ``False`` reproduces the paper's
        fixed-length training exactly.
    validation_fraction : float, default=0.1
        Share of each fold's training rows held out for early stopping.
    n_iter_no_change : int, default=10
        Epochs without improvement of the held-out loss before a fold stops.
    tol : float, default=1e-4
        Smallest fall of the held-out loss (mean cross-entropy, or squared
        error of the standardised target) that counts as an improvement.
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
    verbose : "auto" or int, default="auto"
        ``1`` shows a progress bar (``tqdm.auto``: a widget in a notebook)
        over the training epochs and over the folds' scoring, each named for
        its phase; ``2`` also one over each fold's epochs when folds train one
        at a time; ``0`` is silent. ``"auto"`` shows the bars when the fit is
        expected to take more than a few seconds (estimated from the rows,
        inputs, hidden width, folds and ``epochs``), so small fits stay
        silent.


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
    n_iter_ : ndarray of int of shape (n_folds,)
        Epochs each fold's network trained (``epochs`` unless it stopped
        early).
    early_stopping_ : bool
        Whether early stopping was used (``early_stopping`` resolved).
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
    The paper's settings are ``epochs=100, batch_size=64,
    learning_rate=1e-3, grid_size=2, spline_order=1, hidden_width=None``
    (``2 d + 1``) with ``early_stopping=False``: fixed-length training as
    Akazan et al. run it. The defaults differ only in
    ``early_stopping="auto"``, which leaves tables of up to about a thousand
    rows as in the paper and, on larger ones, stops each fold once its
    held-out loss has not improved for ``n_iter_no_change`` epochs (on
    5,000 x 50 after about 20 epochs, with equal or better held-out loss: see
    "KAN at SHAP's cost" in ``benchmarks/RESULTS.md``).

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
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "validation_fraction": [Interval(RealNotInt, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "cv": [Interval(numbers.Integral, 1, None, closed="left"), "cv_object", None],
        "task": [StrOptions({"auto", "classification", "regression"})],
        "missing_values": [StrOptions({"error", "impute"})],
        "engine": [StrOptions(set(ENGINES))],
        "device": "no_validation",  # a str or torch.device, checked in fit
        "random_state": ["random_state"],
        "verbose": [StrOptions({"auto"}), "verbose"],
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
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        cv=5,
        task="auto",
        missing_values="error",
        engine="tabsift",
        device="cpu",
        random_state=None,
        verbose="auto",
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
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
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
    def _check_weights(self, sample_weight, n_samples):
        """Row weights as float64 NumPy, or None when absent or all equal (no effect)."""
        if sample_weight is None:
            return None
        if self.engine != "tabsift":
            raise ValueError(
                f"sample_weight needs engine='tabsift'; engine={self.engine!r} trains pykan's "
                "own network, whose loss and attribution scores take no row weights. Pass "
                "engine='tabsift', or repeat rows instead of weighting them."
            )
        if _is_device_input(sample_weight):
            from tabsift.backend import to_numpy

            sample_weight = to_numpy(sample_weight)
        sample_weight = check_weights(sample_weight, n_samples, owner="KANSelector")
        if np.all(sample_weight == sample_weight[0]):
            return None  # equal weights scale every mean by nothing
        return sample_weight

    @staticmethod
    def _fold_weights(sample_weight, train, test, fold, n_folds):
        """The training and held-out rows' weights of a fold; each part needs some weight."""
        if sample_weight is None:
            return None, None
        w_train, w_test = sample_weight[train], sample_weight[test]
        for part, w in (("training", w_train), ("held-out", w_test)):
            if not w.sum() > 0:
                raise ValueError(
                    f"KANSelector: the {part} rows of fold {fold + 1}/{n_folds} all have "
                    "sample_weight 0 (the folds are drawn over rows, whatever their weight); "
                    "give more rows a positive weight, pass fewer folds in cv, or drop the "
                    "zero-weight rows."
                )
        return w_train, w_test

    def _resolve_early_stopping(self, folds):
        """``early_stopping`` as a bool, checked against the engine and the folds' sizes."""
        smallest = min(len(train) for train, _ in folds)
        n_val = math.ceil(self.validation_fraction * smallest)
        if self.early_stopping == "auto":
            return self.engine == "tabsift" and n_val >= _AUTO_MIN_VALIDATION_ROWS
        if not self.early_stopping:
            return False
        if self.engine != "tabsift":
            raise ValueError(
                f"early_stopping=True needs engine='tabsift'; engine={self.engine!r} trains "
                "pykan's own network for a fixed number of epochs. Pass early_stopping=False "
                "(or 'auto'), or engine='tabsift'."
            )
        if smallest - n_val < 1:
            raise ValueError(
                f"early_stopping=True sets aside validation_fraction={self.validation_fraction!r}"
                f" of a fold's {smallest} training rows, which leaves none to train on; lower "
                "validation_fraction, pass fewer folds in cv, or early_stopping=False."
            )
        return True

    def _resolve_verbose(self, n_train_rows, n_inputs, hidden):
        """``verbose`` for the bars: ``"auto"`` stays ``"auto"`` (a bar once the step has run a
        couple of seconds, when someone watches) only for a fit estimated to take over a few
        seconds, else 0; an explicit int is kept."""
        if self.verbose != "auto":
            return int(self.verbose)
        # Calibrated on the 2-core CPU machine (benchmarks/RESULTS.md): about 1.2 ns per
        # row, input, hidden unit and epoch, plus 0.3 ms per mini-batch step of all folds.
        steps = self.epochs * math.ceil(max(n_train_rows) / self.batch_size)
        work = self.epochs * sum(n_train_rows) * n_inputs * hidden
        seconds = 1.2e-9 * work + 3e-4 * steps
        if self.engine == "pykan":
            seconds *= 30  # benchmarks/RESULTS.md: pykan trains about 30x slower
        return "auto" if seconds > _AUTO_PROGRESS_SECONDS else 0

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train one KAN per fold and score every feature on held-out rows.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            At least 2 columns: numbers, or a mixed table (text, categories,
            numbers stored as text). A missing category is allowed, a missing
            number is not (see Notes).
        y : array-like of shape (n_samples,)
            Class labels or a numeric target.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; an integer weight ``k`` counts as the
            row repeated ``k`` times. Each fold's standardisation (of ``X``,
            and of a regression target) is weighted; each row's training
            loss is multiplied by its weight scaled to mean 1 over the fold's
            training rows (``w * n / sum(w)``), so a full batch
            (``batch_size`` at least the training rows) minimises exactly the
            loss of the repeated rows and the learning rate keeps its scale;
            the held-out means the scores and ``fold_losses_`` read (of
            contributions, gradients, losses) are weighted. The folds and the
            mini-batches are drawn over rows, whatever their weights, so
            only with ``cv=1`` and a full batch does a weighted fit equal the
            fit on repeated rows. Needs ``engine="tabsift"``.
            Routed by scikit-learn's metadata routing after
            ``set_fit_request(sample_weight=True)``.

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
        ValueError
            If ``sample_weight`` has a negative or non-finite value, is 0
            everywhere or on a fold's training or held-out rows, or comes
            with ``engine="pykan"``.
        """
        check_column_names(X, owner="KANSelector")
        self._check_combinations()
        X, y, on_device, groups, indicators = self._validated_input(X, y)
        n_features = self.n_features_in_
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
        n_samples, n_inputs = X.shape
        sample_weight = self._check_weights(sample_weight, n_samples)
        rng = check_random_state(self.random_state)
        split_seed = int(rng.randint(np.iinfo(np.int32).max))
        # Splitters only count X's rows: a placeholder keeps device arrays where they are.
        folds = self._splits(np.empty((n_samples, 0)), target, task, split_seed)
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(folds))
        x_min, x_max = _column_range(X)
        varies = _varying_features(x_min, x_max, groups, n_features)
        hidden = self.hidden_width if self.hidden_width is not None else 2 * n_inputs + 1
        n_outputs = classes.size if task == "classification" else 1
        early = self._resolve_early_stopping(folds)
        verbose = self._resolve_verbose([len(train) for train, _ in folds], n_inputs, hidden)

        prepared = [
            prepare_fold(
                X, target, train, test, task=task, device=device, as_is=indicators,
                weights=self._fold_weights(sample_weight, train, test, i, len(folds)),
                validation=self.validation_fraction if early else None, seed=int(seeds[i]),
            )
            for i, (train, test) in enumerate(folds)
        ]
        models = [
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
                seed=int(seed),
            )
            for seed in seeds
        ]
        weighted = sample_weight is not None
        joint = self._train_jointly(models, prepared, device, verbose, early, weighted)
        fold_scores, losses = self._train_and_score(
            models, prepared, joint, verbose, early, weighted, (groups, n_features, varies)
        )

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
        self.early_stopping_ = early
        self.n_iter_ = np.asarray([getattr(m, "n_iter_", self.epochs) for m in models])
        self.fold_losses_ = np.asarray(losses)
        self.x_mean_per_fold_ = np.asarray([f.mean for f in prepared])
        self.x_scale_per_fold_ = np.asarray([f.scale for f in prepared])
        self.x_range_ = np.stack([x_min, x_max], axis=1)
        # Regression targets are standardised per fold; plots map outputs back to y's units.
        y_stats = np.asarray([f.y_stats for f in prepared])
        self.y_mean_per_fold_, self.y_scale_per_fold_ = y_stats[:, 0], y_stats[:, 1]
        return self

    def _validated_input(self, X, y):
        """Check ``X`` and ``y``; record the encoding. Returns X, y, on_device, groups, indicators.

        ``groups`` (each network input's column) and ``indicators`` (inputs
        that are one-hot indicators) are None for plain numeric input.
        """
        on_device = _is_device_input(X)
        encoded = None
        if on_device:
            X, y = self._validate_device_data(X, y)
        elif is_table(X) or (self.missing_values == "impute" and _has_nan(X)):
            encoded, y = self._validate_table_data(X, y)
            X = encoded.values
        else:
            X, y = self._validate_fit_data(X, y)
        if encoded is None:
            self.encoded_feature_names_ = np.asarray(self._column_names(), dtype=object)
            self.encoded_groups_ = np.arange(self.n_features_in_)
            self.encoding_steps_ = []
            return X, y, on_device, None, None
        self.encoded_feature_names_ = np.asarray(encoded.names, dtype=object)
        self.encoded_groups_ = np.asarray(encoded.groups)
        self.encoding_steps_ = list(encoded.steps)
        return X, y, on_device, encoded.groups, self._indicator_inputs(encoded)

    def _train_jointly(self, models, prepared, device, verbose, early, weighted):
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
            total=self.epochs,
            verbose=verbose,
            desc=f"KANSelector: training {len(models)} folds together{stop_note}",
            unit="epoch",
        )
        extra = {"sample_weights": [f.w_train for f in prepared]} if weighted else {}
        if early:
            extra.update(
                validations=[f.validation for f in prepared],
                n_iter_no_change=self.n_iter_no_change,
                tol=self.tol,
            )
        fit_together(
            models,
            [(f.X_train, f.y_train) for f in prepared],
            progress=lambda _epoch: epoch_bar.update(1),
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            **extra,
        )
        epoch_bar.close()
        return True

    def _train_and_score(self, models, prepared, joint, verbose, early, weighted, features):
        """Train each fold's network (unless trained jointly) and score the features on its
        held-out rows. Returns the normalised scores and the held-out loss of each fold."""
        groups, n_features, varies = features
        phase = "scoring folds" if joint else "training and scoring folds"
        fold_bar = progress(
            total=len(models), verbose=verbose, desc=f"KANSelector: {phase}", unit="fold"
        )
        fold_scores, losses = [], []
        for i, (engine, fold) in enumerate(zip(models, prepared, strict=True)):
            if not joint:
                self._train_fold(engine, fold, i, len(models), verbose, early, weighted)
            _check_converged(engine, i, len(models), self.learning_rate)
            raw = compute_scores(
                engine, self.method, self.reading, fold.X_test, fold.y_test, groups, n_features,
                fold.w_test,
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

    def _train_fold(self, engine, fold, i, n_folds, verbose, early, weighted):
        """Train one fold's network alone."""
        epoch_bar = progress(
            total=self.epochs,
            # Explicit -vv shows each fold's epochs; "auto" shows them when the fold is long.
            verbose=verbose if verbose == "auto" else verbose >= 2,
            desc=f"KANSelector: training fold {i + 1}/{n_folds}",
            unit="epoch",
        )
        extra = {"sample_weight": fold.w_train} if weighted else {}
        if early:
            extra.update(
                validation=fold.validation, n_iter_no_change=self.n_iter_no_change, tol=self.tol
            )
        engine.fit(
            fold.X_train,
            fold.y_train,
            progress=lambda _epoch: epoch_bar.update(1),
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            **extra,
        )
        epoch_bar.close()

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
        config = transform_output(self)
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
