"""The fitted tree: a small array structure, printed and drawn by separate functions.

The arrays are laid out over a complete binary tree (see
:mod:`tabsift.tree._positions`); nested-dict text is written by
:mod:`tabsift.tree._text` and drawings by :mod:`tabsift.tree._plot`.
"""

import numpy as np

from tabsift.tree._positions import depth_of_capacity, level, reachable
from tabsift.tree._text import branch_keys, tree_to_text
from tabsift.utils import plain

__all__ = ["Tree"]


class Tree:
    """A fitted axis-aligned decision tree stored as arrays over a complete binary tree.

    Position ``i`` has children ``2 * i + 1`` (rows with ``x <= threshold``)
    and ``2 * i + 2`` (rows with ``x > threshold``); rows whose value is
    missing (NaN) take the child ``missing_go_to_left`` names, shown as
    ``or missing`` on that branch when the tree is printed. Built by
    :class:`EvolvedTreeClassifier` and :class:`EvolvedTreeRegressor` (their
    ``tree_`` attribute); printing, conversion and drawing are separate
    methods that only read the arrays.

    Parameters
    ----------
    feature : ndarray of int of shape (n_positions,)
        Column index each node splits on; ``-1`` for a leaf or an unused
        position.
    threshold : ndarray of float of shape (n_positions,)
        Split threshold of each internal node (0 elsewhere).
    value : ndarray of shape (n_positions, n_outputs)
        Class frequencies (classification) or the mean target (regression,
        ``n_outputs = 1``) of the training rows reaching each node.
    n_node_samples : ndarray of int of shape (n_positions,)
        Number of training rows reaching each node.
    feature_names : list of str
        Name of each column the tree can split on. Categorical columns are
        one-hot encoded by the estimators, with names like ``"color=red"``.
    classes : ndarray, default=None
        Class labels (classification); None for regression.
    missing_go_to_left : ndarray of bool of shape (n_positions,), default=None
        Whether rows with a missing value in a node's column go to its ``<=``
        child (True) or its ``>`` child (False). None sends them left
        everywhere.
    weighted_n_node_samples : ndarray of float of shape (n_positions,), default=None
        Total ``sample_weight`` of the training rows reaching each node (as
        scikit-learn's trees keep it); None: the row counts.

    Attributes
    ----------
    max_depth : int
        Depth of the complete tree the arrays can hold.
    depth : int
        Depth of the tree itself (0 for a single leaf).
    n_leaves : int
        Number of leaves.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.tree import Tree
    >>> tree = Tree(
    ...     feature=np.array([0, -1, -1]),
    ...     threshold=np.array([2.5, 0.0, 0.0]),
    ...     value=np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]),
    ...     n_node_samples=np.array([20, 10, 10]),
    ...     feature_names=["age"],
    ...     classes=np.array(["no", "yes"]),
    ...     missing_go_to_left=np.array([False, True, True]),
    ... )
    >>> print(tree.export_text())
    |--- age <= 2.5
    |   |--- class: no (n=10, p=0.90)
    |--- age > 2.5 or missing
    |   |--- class: yes (n=10, p=0.80)
    >>> tree.to_dict()
    {'age': {'<= 2.5': {'value': 'no'}, '> 2.5 or missing': {'value': 'yes'}}}
    >>> tree.predict(np.array([[1.0], [3.0], [np.nan]])).tolist()
    ['no', 'yes', 'yes']
    """

    def __init__(
        self,
        feature,
        threshold,
        value,
        n_node_samples,
        feature_names,
        classes=None,
        missing_go_to_left=None,
        weighted_n_node_samples=None,
    ):
        self.feature = np.asarray(feature, dtype=np.int64)
        self.threshold = np.asarray(threshold, dtype=np.float64)
        self.value = np.asarray(value, dtype=np.float64).reshape(self.feature.shape[0], -1)
        self.n_node_samples = np.asarray(n_node_samples, dtype=np.int64)
        self.feature_names = [str(name) for name in feature_names]
        self.classes = None if classes is None else np.asarray(classes)
        if missing_go_to_left is None:
            missing_go_to_left = np.ones(self.feature.shape[0], dtype=bool)
        self.missing_go_to_left = np.asarray(missing_go_to_left, dtype=bool)
        if weighted_n_node_samples is None:
            weighted_n_node_samples = self.n_node_samples
        self.weighted_n_node_samples = np.asarray(weighted_n_node_samples, dtype=np.float64)

    # ----------------------------------------------------------- structure
    @property
    def max_depth(self):
        return depth_of_capacity(self.feature.shape[0])

    @property
    def depth(self):
        alive = reachable(self.feature)
        internal = np.flatnonzero(alive & (self.feature >= 0))
        return 0 if internal.size == 0 else max(level(i) for i in internal) + 1

    @property
    def n_leaves(self):
        return int((reachable(self.feature) & (self.feature < 0)).sum())

    def __repr__(self):
        task = "classification" if self.classes is not None else "regression"
        return f"Tree(depth={self.depth}, n_leaves={self.n_leaves}, {task})"

    # ---------------------------------------------------------- prediction
    def apply(self, X):
        """Return the position of the leaf each row of ``X`` reaches.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Numeric, in the encoded columns of ``feature_names``; NaN marks a
            missing value.

        Returns
        -------
        leaves : ndarray of int of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.tree import Tree
        >>> tree = Tree([0, -1, -1], [0.0, 0, 0], [[1.0], [-1.0], [2.0]], [4, 2, 2], ["x"])
        >>> tree.apply(np.array([[-1.0], [1.0], [np.nan]])).tolist()
        [1, 2, 1]
        """
        from tabsift.tree._population import apply_population

        X = np.asarray(X, dtype=np.float64)
        return apply_population(
            self.feature[None], self.threshold[None], X, missing=self.missing_go_to_left[None]
        )[0]

    def decision_path(self, X):
        """Return the nodes each row of ``X`` passes through, as a sparse indicator matrix.

        Node ``i`` is position ``i`` of the arrays (the numbering of
        :meth:`apply`); a row's path runs from the root to its leaf, each split
        sending rows with a missing value to the side ``missing_go_to_left``
        names.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Numeric, in the encoded columns of ``feature_names``; NaN marks a
            missing value.

        Returns
        -------
        indicator : scipy.sparse.csr_matrix of shape (n_samples, n_positions)
            ``indicator[r, i]`` is 1 when row ``r`` reaches node ``i``.

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.tree import Tree
        >>> tree = Tree([0, -1, -1], [0.0, 0, 0], [[1.0], [-1.0], [2.0]], [4, 2, 2], ["x"])
        >>> tree.decision_path(np.array([[-1.0], [1.0]])).toarray().tolist()
        [[1, 1, 0], [1, 0, 1]]
        """
        from scipy.sparse import csr_matrix

        leaves = self.apply(X)
        depth = self.max_depth
        # Walk each leaf up to the root: the ancestors of position i are (i - 1) // 2, ...
        nodes = np.empty((depth + 1, leaves.shape[0]), dtype=np.int64)
        nodes[0] = leaves
        for k in range(1, depth + 1):
            nodes[k] = np.maximum((nodes[k - 1] - 1) // 2, 0)
        levels = np.floor(np.log2(leaves + 1.0)).astype(np.int64)
        keep = np.arange(depth + 1)[:, None] <= levels[None, :]
        # Row-major over (row, level from the deepest up): each row's nodes in increasing order.
        indices = nodes[::-1].T[keep[::-1].T]
        indptr = np.concatenate([[0], np.cumsum(levels + 1)])
        data = np.ones(indices.shape[0], dtype=np.int64)
        n = leaves.shape[0]
        return csr_matrix((data, indices, indptr), shape=(n, self.feature.shape[0]))

    def predict(self, X):
        """Predict the class label (classification) or mean (regression) of each row.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.tree import Tree
        >>> tree = Tree([0, -1, -1], [0.0, 0, 0], [[1.0], [-1.0], [2.0]], [4, 2, 2], ["x"])
        >>> tree.predict(np.array([[-1.0], [1.0]])).tolist()
        [-1.0, 2.0]
        """
        leaves = self.apply(X)
        if self.classes is None:
            return self.value[leaves, 0]
        return self.classes[np.argmax(self.value[leaves], axis=1)]

    # ------------------------------------------------------------ printing
    def _leaf_value(self, i):
        if self.classes is None:
            return float(self.value[i, 0])
        return plain(self.classes[int(np.argmax(self.value[i]))])

    def to_dict(self, position=0):
        """Return the tree as the nested dict LLEGO's prompts use.

        An internal node is ``{feature: {"<= t": left, "> t": right}}``, a
        leaf ``{"value": v}`` with the predicted class label or the mean
        target. The branch missing values take has ``" or missing"`` after
        its threshold. Thresholds are written exactly (``repr`` of the float).

        Parameters
        ----------
        position : int, default=0
            Node to start from (0: the whole tree).

        Returns
        -------
        tree : dict

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.tree import Tree
        >>> Tree([0, -1, -1], [0.5, 0, 0], [[1.0], [-1.0], [2.0]], [4, 2, 2], ["x"]).to_dict()
        {'x': {'<= 0.5 or missing': {'value': -1.0}, '> 0.5': {'value': 2.0}}}
        """
        j = int(self.feature[position])
        if j < 0:
            return {"value": self._leaf_value(position)}
        left, right = branch_keys(
            repr(float(self.threshold[position])), self.missing_go_to_left[position]
        )
        return {
            self.feature_names[j]: {
                left: self.to_dict(2 * position + 1),
                right: self.to_dict(2 * position + 2),
            }
        }

    def to_text(self, *, indent=None):
        """Return the tree as nested-dict text (JSON), as shown to an LLM.

        Thresholds and leaf values are rounded to 6 significant digits.

        Parameters
        ----------
        indent : int, default=None
            JSON indentation; None writes one line.

        Returns
        -------
        text : str

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.tree import Tree
        >>> Tree([0, -1, -1], [0.5, 0, 0], [[1.0], [-1.0], [2.0]], [4, 2, 2], ["x"]).to_text()
        '{"x": {"<= 0.5 or missing": {"value": -1}, "> 0.5": {"value": 2}}}'
        """
        labels = None if self.classes is None else [plain(c) for c in self.classes]
        leaf = self.value[:, 0] if self.classes is None else np.argmax(self.value, axis=1)
        return tree_to_text(
            self.feature,
            self.threshold,
            self.missing_go_to_left,
            leaf,
            self.feature_names,
            labels=labels,
            indent=indent,
        )

    def export_text(self, *, decimals=3):
        """Return a text drawing of the tree, one line per branch, like sklearn's ``export_text``.

        The branch rows with a missing value take ends in ``or missing``.

        Parameters
        ----------
        decimals : int, default=3
            Decimals of thresholds (trailing zeros dropped) and leaf values.

        Returns
        -------
        text : str

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.tree import Tree
        >>> tree = Tree([0, -1, -1], [0.5, 0, 0], [[1.0], [-1.0], [2.0]], [4, 2, 2], ["x"])
        >>> print(tree.export_text(decimals=1))
        |--- x <= 0.5 or missing
        |   |--- value: -1.0 (n=2)
        |--- x > 0.5
        |   |--- value: 2.0 (n=2)
        """
        lines = []

        def number(v):
            text = f"{float(v):.{decimals}f}".rstrip("0")
            return text + "0" if text.endswith(".") else text

        def leaf(i, pad):
            n = int(self.n_node_samples[i])
            if self.classes is None:
                lines.append(f"{pad}|--- value: {float(self.value[i, 0]):.{decimals}f} (n={n})")
            else:
                k = int(np.argmax(self.value[i]))
                lines.append(
                    f"{pad}|--- class: {self.classes[k]} (n={n}, p={self.value[i, k]:.2f})"
                )

        def walk(i, pad):
            j = int(self.feature[i])
            if j < 0:
                leaf(i, pad)
                return
            name = self.feature_names[j]
            keys = branch_keys(number(self.threshold[i]), self.missing_go_to_left[i])
            for child, key in zip((2 * i + 1, 2 * i + 2), keys, strict=True):
                lines.append(f"{pad}|--- {name} {key}")
                walk(child, pad + "|   ")

        walk(0, "")
        return "\n".join(lines)

    def plot(self, ax=None, *, decimals=2, fontsize=8):
        """Draw the tree with matplotlib: one box per node, split rules on the edges.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.
        decimals : int, default=2
            Decimals of thresholds and values.
        fontsize : float, default=8

        Returns
        -------
        ax : matplotlib Axes

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.tree import Tree
        >>> tree = Tree([0, -1, -1], [0.5, 0, 0], [[1.0], [-1.0], [2.0]], [4, 2, 2], ["x"])
        >>> len(tree.plot().texts)  # 3 node boxes and 2 edge labels
        5
        """
        from tabsift.tree._plot import plot_tree

        return plot_tree(self, ax=ax, decimals=decimals, fontsize=fontsize)
