"""KANSelector: keep the features a Kolmogorov-Arnold network relies on.

The estimator is thin: its parameters are checked and resolved in
:mod:`._kan_params`, its input in :mod:`._kan_inputs`, the folds prepared in
:mod:`._kan_folds`, and trained and scored in :mod:`._kan_cross_fit`.
"""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from tabsift.feature_selection._common import TableSelectorMixin
from tabsift.feature_selection._kan_cross_fit import (
    fold_splits,
    make_models,
    record_networks,
    record_scores,
    train_and_score,
    train_jointly,
)
from tabsift.feature_selection._kan_folds import _column_range, _varying_features, prepare_fold
from tabsift.feature_selection._kan_inputs import (
    check_kan_weights,
    encode_target,
    fold_weights,
    is_device_input,
    take_columns_on_device,
    validated_input,
)
from tabsift.feature_selection._kan_params import (
    KAN_PARAMETER_CONSTRAINTS,
    check_combinations,
    resolve_device,
    resolve_early_stopping,
    resolve_verbose,
)
from tabsift.feature_selection._plot import KANPlotsMixin
from tabsift.table import check_column_names, infer_task
from tabsift.utils import fit_context


class KANSelector(KANPlotsMixin, TableSelectorMixin, BaseEstimator):
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

    _parameter_constraints = KAN_PARAMETER_CONSTRAINTS

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
        check_combinations(self)
        X, y, on_device, groups, indicators = validated_input(self, X, y)
        n_features = self.n_features_in_
        task = infer_task(y, self.task, owner="KANSelector")
        classes, target = encode_target(y, task)
        device = resolve_device(self, X if on_device else None)
        n_samples, n_inputs = X.shape
        sample_weight = check_kan_weights(sample_weight, n_samples, self.engine)
        rng = check_random_state(self.random_state)
        split_seed = int(rng.randint(np.iinfo(np.int32).max))
        folds = fold_splits(self.cv, n_samples, target, task, split_seed)
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(folds))
        x_min, x_max = _column_range(X)
        varies = _varying_features(x_min, x_max, groups, n_features)
        hidden = self.hidden_width if self.hidden_width is not None else 2 * n_inputs + 1
        n_outputs = classes.size if task == "classification" else 1
        early = resolve_early_stopping(self, folds)
        verbose = resolve_verbose(self, [len(train) for train, _ in folds], n_inputs, hidden)

        prepared = [
            prepare_fold(
                X, target, train, test, task=task, device=device, as_is=indicators,
                weights=fold_weights(sample_weight, train, test, i, len(folds)),
                validation=self.validation_fraction if early else None, seed=int(seeds[i]),
            )
            for i, (train, test) in enumerate(folds)
        ]
        models = make_models(
            self, seeds, n_inputs=n_inputs, n_outputs=n_outputs, hidden=hidden, task=task,
            device=device,
        )
        weighted = sample_weight is not None
        joint = train_jointly(self, models, prepared, device, verbose, early, weighted)
        fold_scores, losses = train_and_score(
            self, models, prepared, joint, verbose, early, weighted, (groups, n_features, varies)
        )

        self.task_ = task
        if classes is not None:
            self.classes_ = classes
        record_scores(self, fold_scores, varies)
        record_networks(self, models, prepared, losses, early)
        self.x_range_ = np.stack([x_min, x_max], axis=1)
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
        if not is_device_input(X):
            return super().transform(X)
        return take_columns_on_device(self, X)

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing_values == "impute"
        # Seeded through random_state: the same seed gives the same scores.
        tags.non_deterministic = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
