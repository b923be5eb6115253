"""The offline proposer: search simple correction terms over the features the residuals point at.

1. Relevance: a small gradient-boosted tree model (xgboost) is fit to the
   remaining residuals of the training rows (classification: to each class's
   working residual, one-hot minus probability), and each feature is scored
   by its mean absolute SHAP value (xgboost's exact TreeSHAP,
   ``pred_contribs=True``). The best ``n_features`` features are searched.
2. Candidates over those features: ``x``, ``x ** 2``, ``abs(x)``,
   ``x / (c + abs(x))`` (saturation, ``c`` the median of ``|x|``),
   ``where(x > q, 1, 0)`` (thresholds at the quartiles), and for each pair
   ``x * y``, ``x / (c + abs(y))`` and ``sigmoid(a * x * y)`` (``a`` = 0.5,
   1, 2, 4 over the product of standard deviations, 2 significant digits).
   Other constants are rounded to 4 significant digits so the formulas stay
   readable. Statistics skip missing values and rows of zero sample weight;
   a term adds 0 on a row where a column it reads is missing.
   Compositions (``_offline_compose``): saturations, steps, logarithms and
   decays of each pair's product, sum and difference, ratios of sums,
   thresholded interactions and fitted waves ``sin(w * x + phi)``; and each
   candidate *net of its linear part* in the columns it reads
   (``g - b1 * x1 - ...``), since a base model linear in those columns has
   already taken that part up. Candidates are built and evaluated once per
   fit and reused by later rounds.
3. Every candidate is ranked by how much one Newton step for its
   coefficient lowers the training loss (vectorised; exact for least
   squares); the 5 best are fit jointly with the terms already kept and the
   one with the lowest validation loss is the proposal. Ranking on training
   rows and comparing only a short list on validation keeps the validation
   rows from being fit by the search itself. A term is kept only if it lowers the validation loss by at
   least ``min_gain`` (relative); at most ``n_corrections`` are kept.
4. Each further round recomputes relevance on what is left, tries to swap
   each kept term for a better candidate, and tunes the constants of the
   kept terms (each scaled by 0.5, 0.8, 0.9, 1.1, 1.25 or 2, to 3 significant digits)
   on the training rows, keeping a change that lowers the training loss
   without raising the validation loss. The search stops when a round
   changes nothing.
"""

import dataclasses
import itertools

import numpy as np

from tabsift.expr import BinaryOp, Call, Column, Compare, Expression, Number, UnaryOp, walk
from tabsift.residual._offline_compose import NetCandidate, composite_formulas, net_versions
from tabsift.utils import progress

# How many of the best-ranked candidates are fit jointly and compared on validation.
_SHORTLIST = 5
# Multiplicative steps tried for each constant of a kept term (rounds 2 and later).
_TUNE_FACTORS = (0.5, 0.8, 0.9, 1.1, 1.25, 2.0)


def _num(value, digits=4):
    value = float(f"{float(value):.{digits}g}")
    return UnaryOp("-", Number(-value)) if value < 0 else Number(value)


def feature_relevance(X_train, targets, *, random_state, n_jobs, sample_weight=None):
    """Mean absolute SHAP value of each feature in xgboost models fit to ``targets``.

    With ``sample_weight`` the models are fit with the weights and the SHAP values
    averaged with them.
    """
    import xgboost

    scores = np.zeros(X_train.shape[1])
    for j in range(targets.shape[1]):
        model = xgboost.XGBRegressor(
            n_estimators=60,
            max_depth=3,
            learning_rate=0.1,
            subsample=0.8,
            random_state=int(random_state),
            n_jobs=n_jobs,
        )
        model.fit(X_train, targets[:, j], sample_weight=sample_weight)
        contribs = model.get_booster().predict(xgboost.DMatrix(X_train), pred_contribs=True)
        # The last column is the bias.
        scores += np.average(np.abs(contribs[:, :-1]), axis=0, weights=sample_weight)
    return scores


def _replace(node, path, new):
    """Return a copy of the tree ``node`` with the node at ``path`` replaced by ``new``."""
    if not path:
        return new
    i, rest = path[0], path[1:]
    if isinstance(node, UnaryOp):
        return dataclasses.replace(node, operand=_replace(node.operand, rest, new))
    if isinstance(node, (BinaryOp, Compare)):
        field = "left" if i == 0 else "right"
        return dataclasses.replace(node, **{field: _replace(getattr(node, field), rest, new)})
    args = list(node.args)
    args[i] = _replace(args[i], rest, new)
    return dataclasses.replace(node, args=tuple(args))


def candidate_formulas(data_train, features, weights=None):
    """``[(node, explanation)]``: syntax trees over the given features (see the module notes).

    Rows whose weight is 0 (``weights``, None for none) give no constant.
    """
    out = []
    stats = {}
    for name in features:
        x = data_train[name]
        keep = ~np.isnan(x) if weights is None else ~np.isnan(x) & (weights > 0)
        x = x[keep]  # constants come from the rows where the column has a value
        if x.size == 0:
            continue
        stats[name] = (
            float(np.std(x)),
            float(np.median(np.abs(x))),
            np.quantile(x, [0.25, 0.5, 0.75]),
        )
    features = [name for name in features if name in stats]
    for name in features:
        col = Column(name)
        std, med_abs, quartiles = stats[name]
        out.append((col, f"linear term in {name}"))
        out.append((BinaryOp("**", col, Number(2.0)), f"square of {name}"))
        out.append((Call("abs", (col,)), f"absolute value of {name}"))
        if med_abs > 0:
            sat = BinaryOp("/", col, BinaryOp("+", _num(med_abs), Call("abs", (col,))))
            out.append((sat, f"saturating effect of {name}"))
        for q in np.unique(quartiles):
            cond = Compare(">", col, _num(q))
            out.append(
                (
                    Call("where", (cond, Number(1.0), Number(0.0))),
                    f"step where {name} > {float(f'{q:.4g}')}",
                )
            )
    for a, b in itertools.combinations(features, 2):
        ca, cb = Column(a), Column(b)
        out.append((BinaryOp("*", ca, cb), f"interaction of {a} and {b}"))
        for num, den in ((a, b), (b, a)):
            med = stats[den][1]
            if med > 0:
                ratio = BinaryOp(
                    "/", Column(num), BinaryOp("+", _num(med), Call("abs", (Column(den),)))
                )
                out.append((ratio, f"{num} damped by the size of {den}"))
        scale = stats[a][0] * stats[b][0]
        if scale > 0:
            for k in (0.5, 1.0, 2.0, 4.0):
                arg = BinaryOp("*", BinaryOp("*", _num(k / scale, 2), ca), cb)
                out.append((Call("sigmoid", (arg,)), f"smooth switch on the sign of {a} * {b}"))
    return out


class OfflineProposer:
    """Greedy forward search with swap refinement (see the module notes)."""

    def __init__(
        self, *, n_corrections, n_rounds, n_features, min_gain, random_state, n_jobs, verbose
    ):
        self.n_corrections = n_corrections
        self.n_rounds = n_rounds
        self.n_features = n_features
        self.min_gain = min_gain
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _pool(self, ws, fit, X_train, names, usable, trace, round_no):
        targets = ws.gradient_targets(fit)
        if ws.task == "classification" and targets.shape[1] > 10:
            targets = ws.train_residual(fit)[:, None]
        scores = feature_relevance(
            X_train,
            targets,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            sample_weight=ws.w_train,
        )
        order = [j for j in np.argsort(-scores, kind="stable") if names[j] in usable]
        # Searched in column order, so pairs read as in the table (x1 * x2, not x2 * x1).
        features = [names[j] for j in sorted(order[: self.n_features])]
        trace.append(
            {
                "round": round_no,
                "agent": "offline",
                "step": "relevance",
                "hypothesis": "features most related to the residuals (mean |SHAP|): "
                + ", ".join(f"{names[j]}={scores[j]:.3g}" for j in order[: self.n_features]),
                "status": "info",
            }
        )
        classes = (
            [None]
            if ws.task == "regression"
            else ([1] if ws.n_classes == 2 else list(range(ws.n_classes)))
        )
        # What the waves' frequency and phase are fitted to: the residual, or for a
        # classifier the first class's working residual (multiclass: 1 - P(true class)).
        target = targets[:, 0] if targets.shape[1] == 1 or ws.n_classes == 2 else None
        if target is None:
            target = ws.train_residual(fit)
        candidates = candidate_formulas(ws.data_train, features, ws.w_train)
        candidates += composite_formulas(ws.data_train, features, ws.w_train, target)
        terms, seen = [], set()
        for node, explanation in candidates:
            if node in seen:
                continue
            seen.add(node)
            # Terms are kept across rounds: most candidates come back, and building and
            # evaluating a checked formula is the costly part of a round.
            if node not in self._terms:
                try:
                    term = ws.make_term(Expression(node), explanation, "offline", classes[0])
                except ValueError:
                    term = None  # non-finite or constant here: not a candidate
                self._terms[node] = term
            if self._terms[node] is not None:
                terms.append(self._terms[node])
        # Net versions depend on the data only: computed once per term.
        fresh = [t for t in terms if t.expression.root not in self._nets]
        for term, nets in zip(fresh, net_versions(ws, fresh), strict=True):
            self._nets[term.expression.root] = nets
        terms += [net for t in terms for net in self._nets[t.expression.root]]
        # Evaluated once; each class gets its own copy. Pool: class -> (items, values).
        G_train = np.column_stack([t.values_train for t in terms]) if terms else None
        pool = {}
        for c in classes:
            items = [
                t if c == t.target_class else dataclasses.replace(t, target_class=c) for t in terms
            ]
            if items:
                pool[c] = (items, G_train)
        return pool

    def _best_addition(self, ws, fit, pool, exclude):
        """Rank the pool on training rows, fit the short list jointly, return the best on validation.

        Returns ``(validation loss, fit, term)`` or None. Terms
        that vary on too few rows to be judged (``Workspace.judgeable``) are passed
        over before they use up a place on the short list.
        """
        ranked = []
        for c, (items, G_train) in pool.items():
            gain = ws.screen(fit, G_train, c)
            ranked.extend((-gain[i], i, c, items[i]) for i in range(len(items)))
        ranked.sort(key=lambda item: item[:3])
        best, tried = None, 0
        # Keys are read only down the ranking: printing every formula would cost more
        # than the search.
        for _, _, _, item in ranked:
            if tried == _SHORTLIST:
                break
            if item.key in exclude:
                continue
            term = self._checked(ws, item)
            if term is None or not ws.judgeable(term):
                continue
            tried += 1
            candidate = ws.fit([*fit.terms, term])
            if best is None or candidate.val_loss < best[0]:
                best = (candidate.val_loss, candidate, term)
        return best

    def _checked(self, ws, item):
        """Return the term of a pool item: a net candidate's formula is built and checked here."""
        if not isinstance(item, NetCandidate):
            return item
        if item.key not in self._terms:
            try:
                term = ws.make_term(
                    Expression(item.node), item.explanation, "offline", item.target_class
                )
            except ValueError:
                term = None
            if term is not None:
                term = dataclasses.replace(term, support=item.support)
            self._terms[item.key] = term
        return self._terms[item.key]

    def _tune(self, ws, fit, trace, round_no, fixed=0):
        """Tune the constants of each kept term on the training rows (like coefficients).

        Each number in a kept formula is scaled by each of ``_TUNE_FACTORS``; a change is
        kept when it lowers the training loss and does not raise the validation loss.
        """
        for k in range(fixed, len(fit.terms)):
            term = fit.terms[k]
            numbers = [
                (path, node)
                for path, node in walk(term.expression.root)
                if isinstance(node, Number)
            ]
            for path, node in numbers[:4]:
                best = None
                for factor in _TUNE_FACTORS:
                    value = float(f"{node.value * factor:.3g}")
                    if value == node.value or value <= 0:
                        continue
                    try:
                        root = _replace(term.expression.root, path, Number(value))
                        new_term = ws.make_term(
                            Expression(root), term.explanation, "offline", term.target_class
                        )
                    except ValueError:
                        continue
                    if not ws.judgeable(new_term):
                        continue
                    terms = fit.terms[:k] + [new_term] + fit.terms[k + 1 :]
                    candidate = ws.fit(terms)
                    reference = fit if best is None else best
                    if (
                        candidate.train_loss < reference.train_loss * (1 - 1e-6)
                        and candidate.val_loss <= fit.val_loss
                    ):
                        best = candidate
                if best is not None:
                    trace.append(
                        {
                            "round": round_no,
                            "agent": "offline",
                            "step": "tune",
                            "hypothesis": term.explanation,
                            "formula": str(best.terms[k].expression),
                            "target_class": term.target_class,
                            "validation_loss": best.val_loss,
                            "status": "accepted",
                            "reason": f"constant of {term.expression} tuned on training rows "
                            f"(train loss {fit.train_loss:.6g} -> {best.train_loss:.6g})",
                        }
                    )
                    fit, term = best, best.terms[k]
        return fit

    def propose(self, ws, X_train, names, usable, trace, start=None):
        """Search corrections; ``start`` (a fit) holds terms kept as they are (an LLM's)."""
        fit = ws.empty if start is None else start
        self._terms = {}  # syntax tree (or net candidate key) -> Term, or None if unusable
        self._nets = {}  # syntax tree -> its net versions
        fixed = len(fit.terms)
        rounds = progress(range(1, self.n_rounds + 1), verbose=self.verbose, desc="rounds")
        for round_no in rounds:
            pool = self._pool(ws, fit, X_train, names, usable, trace, round_no)
            changed = False
            # Forward: add terms while slots remain and validation loss falls.
            while len(fit.terms) < self.n_corrections:
                best = self._best_addition(ws, fit, pool, {t.key for t in fit.terms})
                if best is None:
                    break
                loss, candidate, term = best
                entry = {
                    "round": round_no,
                    "agent": "offline",
                    "step": "add",
                    "hypothesis": term.explanation,
                    "formula": str(term.expression),
                    "target_class": term.target_class,
                    "validation_loss": loss,
                }
                if ws.accepts(candidate, fit, self.min_gain):
                    trace.append(
                        {
                            **entry,
                            "status": "accepted",
                            "reason": f"validation loss {fit.val_loss:.6g} -> {loss:.6g}",
                        }
                    )
                    fit, changed = candidate, True
                else:
                    trace.append(
                        {
                            **entry,
                            "status": "rejected",
                            "reason": f"validation gain too small or not clear of noise ({fit.val_loss:.6g} -> {loss:.6g})",
                        }
                    )
                    break
            # Refine: try to swap each kept term for a better one.
            if round_no > 1 or self.n_rounds == 1:
                for k in range(fixed, len(fit.terms)):
                    others = fit.terms[:k] + fit.terms[k + 1 :]
                    reduced = ws.fit(others)
                    best = self._best_addition(ws, reduced, pool, {t.key for t in fit.terms})
                    if best is None:
                        continue
                    loss, candidate, term = best
                    if ws.accepts(candidate, fit, self.min_gain):
                        old = fit.terms[k]
                        trace.append(
                            {
                                "round": round_no,
                                "agent": "offline",
                                "step": "swap",
                                "hypothesis": term.explanation,
                                "formula": str(term.expression),
                                "target_class": term.target_class,
                                "validation_loss": loss,
                                "status": "accepted",
                                "reason": f"replaces {old.expression} ({fit.val_loss:.6g} -> {loss:.6g})",
                            }
                        )
                        # Keep the order of the kept terms: the new one takes the old one's slot.
                        terms = others[:k] + [term] + others[k:]
                        fit, changed = ws.fit(terms), True
            if round_no > 1 and len(fit.terms) > fixed:
                tuned = self._tune(ws, fit, trace, round_no, fixed)
                changed = changed or tuned is not fit
                fit = tuned
            if not changed and round_no > 1:
                break
        return fit
