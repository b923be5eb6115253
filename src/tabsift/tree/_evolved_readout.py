"""The read-outs of a fitted evolved tree: leaves, paths, size, text and drawings.

:class:`_FittedTreeMixin` gives :class:`EvolvedTreeClassifier` and
:class:`EvolvedTreeRegressor` the methods that only read ``tree_`` (and
``history_``); the fit itself is in :mod:`tabsift.tree._evolved_base`.
"""

from sklearn.utils.validation import check_is_fitted


class _FittedTreeMixin:
    """Methods reading the fitted ``tree_``; the host provides ``_validate_X`` and ``_metric``."""

    def _fitted_tree(self):
        """Return ``tree_``, once the estimator is fitted."""
        check_is_fitted(self, "tree_")
        return self.tree_

    def _encoded(self, X):
        check_is_fitted(self, "tree_")
        return self._validate_X(X, reset=False)

    def apply(self, X):
        """Return the index of the leaf of ``tree_`` each row reaches.

        Nodes are numbered by their position in ``tree_``'s arrays (the root
        is 0, the children of node ``i`` are ``2 i + 1`` and ``2 i + 2``), as
        in :meth:`decision_path`. A row with a missing value follows the side
        each split sends missing values to.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        leaves : ndarray of int of shape (n_samples,)

        Examples
        --------
        >>> from tabsift.datasets import make_planted_tree
        >>> from tabsift.tree import EvolvedTreeClassifier
        >>> data = make_planted_tree(n_samples=200, depth=1, noise=0.0, random_state=0)
        >>> clf = EvolvedTreeClassifier(max_depth=1, n_generations=2, random_state=0)
        >>> clf = clf.fit(data.data, data.target)
        >>> sorted(set(clf.apply(data.data).tolist()))
        [1, 2]
        """
        X = self._encoded(X)
        return self.tree_.apply(X)

    def decision_path(self, X):
        """Return the nodes of ``tree_`` each row passes through.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        indicator : scipy.sparse.csr_matrix of shape (n_samples, n_nodes)
            ``indicator[r, i]`` is 1 when row ``r`` goes through node ``i``;
            nodes are numbered as in :meth:`apply`, and ``n_nodes`` counts
            every position of the complete tree of depth ``max_depth``
            (those below a leaf are never reached).

        Examples
        --------
        >>> from tabsift.datasets import make_planted_tree
        >>> from tabsift.tree import EvolvedTreeClassifier
        >>> data = make_planted_tree(n_samples=200, depth=1, noise=0.0, random_state=0)
        >>> clf = EvolvedTreeClassifier(max_depth=1, n_generations=2, random_state=0)
        >>> clf = clf.fit(data.data, data.target)
        >>> path = clf.decision_path(data.data[:2])
        >>> path.shape, path.sum(axis=1).tolist()
        ((2, 3), [[2], [2]])
        """
        X = self._encoded(X)
        return self.tree_.decision_path(X)

    def get_depth(self):
        """Return the depth of ``tree_`` (0 for a single leaf).

        Returns
        -------
        depth : int

        Examples
        --------
        >>> from tabsift.datasets import make_planted_tree
        >>> from tabsift.tree import EvolvedTreeClassifier
        >>> data = make_planted_tree(n_samples=200, depth=1, noise=0.0, random_state=0)
        >>> clf = EvolvedTreeClassifier(max_depth=1, n_generations=2, random_state=0)
        >>> clf.fit(data.data, data.target).get_depth()
        1
        """
        return self._fitted_tree().depth

    def get_n_leaves(self):
        """Return the number of leaves of ``tree_``.

        Returns
        -------
        n_leaves : int

        Examples
        --------
        >>> from tabsift.datasets import make_planted_tree
        >>> from tabsift.tree import EvolvedTreeClassifier
        >>> data = make_planted_tree(n_samples=200, depth=1, noise=0.0, random_state=0)
        >>> clf = EvolvedTreeClassifier(max_depth=1, n_generations=2, random_state=0)
        >>> clf.fit(data.data, data.target).get_n_leaves()
        2
        """
        return self._fitted_tree().n_leaves

    def export_text(self, *, decimals=3):
        """Text drawing of ``tree_`` (see :meth:`Tree.export_text`).

        Parameters
        ----------
        decimals : int, default=3

        Returns
        -------
        text : str
        """
        return self._fitted_tree().export_text(decimals=decimals)

    def to_dict(self):
        """``tree_`` as LLEGO's nested dict (see :meth:`Tree.to_dict`).

        Returns
        -------
        tree : dict
        """
        return self._fitted_tree().to_dict()

    def plot(self, ax=None, **kwargs):
        """Draw ``tree_`` with matplotlib (see :meth:`Tree.plot`).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to :meth:`Tree.plot`.

        Returns
        -------
        ax : matplotlib Axes
        """
        return self._fitted_tree().plot(ax=ax, **kwargs)

    def plot_history(self, ax=None):
        """Plot the best and mean fitness of the population per generation.

        Parameters
        ----------
        ax : matplotlib Axes, default=None

        Returns
        -------
        ax : matplotlib Axes
        """
        check_is_fitted(self, "history_")
        from tabsift.tree._plot import plot_history

        return plot_history(self.history_, metric=self._metric(), ax=ax)
