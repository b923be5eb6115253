"""Wrappers over scikit-learn's bundled datasets that say which task each one is."""

from tabsift.datasets._checks import check_bool, check_int


def _wrap(loader, task, *, as_frame, return_X_y, **kwargs):
    check_bool(as_frame, "as_frame")
    check_bool(return_X_y, "return_X_y")
    bunch = loader(as_frame=as_frame, **kwargs)
    if return_X_y:
        return bunch.data, bunch.target
    # sklearn's file-location keys point inside its own package: they are not
    # part of tabsift's contract, so they are dropped.
    for key in ("filename", "data_filename", "target_filename", "data_module"):
        bunch.pop(key, None)
    bunch.task = task
    return bunch


def load_breast_cancer(*, as_frame=True, return_X_y=False):
    """Load the Wisconsin breast cancer dataset (binary classification).

    569 rows, 30 numeric features; a thin wrapper over
    :func:`sklearn.datasets.load_breast_cancer` that returns pandas objects by
    default and adds ``task``.

    Parameters
    ----------
    as_frame : bool, default=True
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and
        ``frame`` a DataFrame holding both (target column ``"target"``). If
        False, ``data`` and ``target`` are NumPy arrays and ``frame`` is None.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Keys ``data``, ``target``, ``frame``, ``feature_names``,
        ``target_names``, ``DESCR`` and ``task`` (``"classification"``).
    (data, target) : tuple
        If ``return_X_y`` is True.

    See Also
    --------
    sklearn.datasets.load_breast_cancer : The underlying loader.

    Examples
    --------
    >>> from tabsift.datasets import load_breast_cancer
    >>> bunch = load_breast_cancer()
    >>> bunch.data.shape, bunch.task
    ((569, 30), 'classification')
    """
    from sklearn import datasets

    return _wrap(
        datasets.load_breast_cancer, "classification", as_frame=as_frame, return_X_y=return_X_y
    )


def load_wine(*, as_frame=True, return_X_y=False):
    """Load the wine recognition dataset (3-class classification).

    178 rows, 13 numeric features; a wrapper over
    :func:`sklearn.datasets.load_wine`.

    Parameters
    ----------
    as_frame : bool, default=True
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and
        ``frame`` a DataFrame holding both (target column ``"target"``). If
        False, ``data`` and ``target`` are NumPy arrays and ``frame`` is None.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Keys ``data``, ``target``, ``frame``, ``feature_names``,
        ``target_names``, ``DESCR`` and ``task`` (``"classification"``).
    (data, target) : tuple
        If ``return_X_y`` is True.

    See Also
    --------
    sklearn.datasets.load_wine : The underlying loader.

    Examples
    --------
    >>> from tabsift.datasets import load_wine
    >>> X, y = load_wine(return_X_y=True)
    >>> X.shape, sorted(y.unique().tolist())
    ((178, 13), [0, 1, 2])
    """
    from sklearn import datasets

    return _wrap(datasets.load_wine, "classification", as_frame=as_frame, return_X_y=return_X_y)


def load_iris(*, as_frame=True, return_X_y=False):
    """Load the iris dataset (3-class classification).

    150 rows, 4 numeric features; a wrapper over
    :func:`sklearn.datasets.load_iris`.

    Parameters
    ----------
    as_frame : bool, default=True
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and
        ``frame`` a DataFrame holding both (target column ``"target"``). If
        False, ``data`` and ``target`` are NumPy arrays and ``frame`` is None.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Keys ``data``, ``target``, ``frame``, ``feature_names``,
        ``target_names``, ``DESCR`` and ``task`` (``"classification"``).
    (data, target) : tuple
        If ``return_X_y`` is True.

    See Also
    --------
    sklearn.datasets.load_iris : The underlying loader.

    Examples
    --------
    >>> from tabsift.datasets import load_iris
    >>> bunch = load_iris()
    >>> bunch.target_names.tolist()
    ['setosa', 'versicolor', 'virginica']
    """
    from sklearn import datasets

    return _wrap(datasets.load_iris, "classification", as_frame=as_frame, return_X_y=return_X_y)


def load_diabetes(*, as_frame=True, return_X_y=False, scaled=True):
    """Load the diabetes dataset (regression).

    442 rows, 10 numeric features; a wrapper over
    :func:`sklearn.datasets.load_diabetes`.

    Parameters
    ----------
    as_frame : bool, default=True
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and
        ``frame`` a DataFrame holding both (target column ``"target"``). If
        False, ``data`` and ``target`` are NumPy arrays and ``frame`` is None.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    scaled : bool, default=True
        If True, features are mean-centred and scaled as in scikit-learn;
        if False, the original values are returned.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Keys ``data``, ``target``, ``frame``, ``feature_names``, ``DESCR`` and
        ``task`` (``"regression"``).
    (data, target) : tuple
        If ``return_X_y`` is True.

    See Also
    --------
    sklearn.datasets.load_diabetes : The underlying loader.

    Examples
    --------
    >>> from tabsift.datasets import load_diabetes
    >>> bunch = load_diabetes()
    >>> bunch.frame.shape, bunch.task
    ((442, 11), 'regression')
    """
    from sklearn import datasets

    check_bool(scaled, "scaled")
    return _wrap(
        datasets.load_diabetes,
        "regression",
        as_frame=as_frame,
        return_X_y=return_X_y,
        scaled=scaled,
    )


def load_digits(n_class=3, *, as_frame=True, return_X_y=False):
    """Load the 8x8 handwritten digits dataset restricted to the first classes.

    A wrapper over :func:`sklearn.datasets.load_digits`. Unlike scikit-learn,
    the default keeps only the digits 0, 1 and 2, the 3-class setting used in
    the Kolmogorov-Arnold network experiments; pass ``n_class=10`` for all
    digits. Each of the 64 features is one pixel's grey level (0 to 16).

    Parameters
    ----------
    n_class : int, default=3
        Number of classes (digits ``0`` to ``n_class - 1``), between 1 and 10.
    as_frame : bool, default=True
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and
        ``frame`` a DataFrame holding both (target column ``"target"``). If
        False, ``data`` and ``target`` are NumPy arrays and ``frame`` is None.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Keys ``data``, ``target``, ``frame``, ``feature_names``,
        ``target_names``, ``images``, ``DESCR`` and ``task``
        (``"classification"``).
    (data, target) : tuple
        If ``return_X_y`` is True.

    See Also
    --------
    sklearn.datasets.load_digits : The underlying loader.

    Examples
    --------
    >>> from tabsift.datasets import load_digits
    >>> bunch = load_digits()
    >>> bunch.data.shape, sorted(bunch.target.unique().tolist())
    ((537, 64), [0, 1, 2])
    """
    from sklearn import datasets

    n_class = check_int(n_class, "n_class", min_value=1, max_value=10, hint="There are 10 digits.")
    bunch = _wrap(
        datasets.load_digits,
        "classification",
        as_frame=as_frame,
        return_X_y=return_X_y,
        n_class=n_class,
    )
    if not return_X_y:
        # sklearn lists all ten digits even when fewer classes are kept.
        bunch.target_names = bunch.target_names[:n_class]
    return bunch


def load_california_housing(*, as_frame=True, return_X_y=False, data_home=None):
    """Load the California housing dataset (regression) if it is cached locally.

    scikit-learn downloads this dataset on first use. tabsift never downloads
    anything: this loader reads scikit-learn's cache and raises an error when
    the data is not there.

    Parameters
    ----------
    as_frame : bool, default=True
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and
        ``frame`` a DataFrame holding both. If False, ``data`` and ``target``
        are NumPy arrays and ``frame`` is None.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    data_home : str or path-like, default=None
        scikit-learn's data folder; by default :func:`sklearn.datasets.get_data_home`.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Keys ``data``, ``target``, ``frame``, ``feature_names``,
        ``target_names``, ``DESCR`` and ``task`` (``"regression"``).
    (data, target) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        When the data is not available offline.

    See Also
    --------
    sklearn.datasets.fetch_california_housing : The underlying loader.

    Examples
    --------
    >>> from tabsift.datasets import load_california_housing
    >>> try:
    ...     bunch = load_california_housing()
    ... except FileNotFoundError as err:
    ...     print("not available offline" in str(err))
    ... else:
    ...     print(bunch.data.shape == (20640, 8))
    True
    """
    from sklearn import datasets

    check_bool(as_frame, "as_frame")
    check_bool(return_X_y, "return_X_y")
    try:
        bunch = datasets.fetch_california_housing(
            data_home=data_home, download_if_missing=False, as_frame=as_frame
        )
    except OSError as err:
        where = data_home if data_home is not None else datasets.get_data_home()
        raise FileNotFoundError(
            f"The California housing dataset is not available offline: no cached copy was "
            f"found in {str(where)!r}, and tabsift never downloads data. Fetch it once while "
            f"online with sklearn.datasets.fetch_california_housing(), or pass data_home= "
            f"pointing at a folder that holds it; load_diabetes() is a bundled regression "
            f"dataset that needs no download."
        ) from err
    if return_X_y:
        return bunch.data, bunch.target
    bunch.task = "regression"
    return bunch
