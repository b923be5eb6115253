"""The optimal-transport selection of GORACS: costs, the OT solve, greedy build and swaps."""

import math

import numpy as np

from tabsift.sampling._coreset_embedding import to_backend
from tabsift.utils import progress

# Problems up to this many cost entries are solved exactly (network simplex);
# larger ones with log-domain Sinkhorn.
_EXACT_LIMIT = 2e7


class _Costs:
    """Costs ``|e_i - e_j| / scale - lam * g_i`` between candidates and validation rows, by chunk."""

    def __init__(self, E_cand, g_cand, E_val, lam, rng):
        from functools import partial

        from tabsift.backend import namespace_by_name, sq_distances

        self.E_cand, self.g_cand, self.E_val, self.lam = E_cand, g_cand, E_val, lam
        # Small NumPy blocks (a sample here, the swap pool's rows later), whatever the
        # configured backend: only the chunked pass over all candidates goes there.
        self._sq = partial(sq_distances, xp=namespace_by_name("numpy"))
        # Distances are divided by their typical size so that lam weighs two
        # quantities of the same order whatever the number of features.
        a = rng.choice(len(E_cand), size=min(500, len(E_cand)), replace=False)
        b = rng.choice(len(E_val), size=min(500, len(E_val)), replace=False)
        mean = float(np.sqrt(self._sq(E_cand[a], E_val[b])).mean())
        self.scale = mean if mean > 0 else 1.0

    def rows(self, idx):
        """Costs of candidates ``idx`` (rows) to every validation row (columns), float64."""
        d = np.sqrt(self._sq(self.E_cand[idx], self.E_val)) / self.scale
        return (d - self.lam * self.g_cand[idx][:, None]).astype(np.float64)

    def chunks_transposed(self, chunk_rows):
        """Yield ``(idx, C.T)`` for consecutive candidate chunks of the cost matrix.

        ``C.T`` holds validation rows by candidates, float32, so per-validation-row
        work runs along contiguous memory.

        With ``tabsift.set_config(array_backend=...)`` set (CuPy on a GPU), each
        chunk's distances (the ``n m d`` matrix products, the bulk of the work)
        are computed there and the chunk comes back to NumPy for the shortlist.
        """
        n = len(self.E_cand)
        V = np.asarray(self.E_val, dtype=np.float32)
        g = np.asarray(self.lam * self.g_cand, dtype=np.float32)
        inv = np.float32(1.0 / self.scale)
        if to_backend(V) is not V:
            yield from self._chunks_on_backend(V, g, float(inv), chunk_rows)
            return
        vv = np.einsum("ij,ij->i", V, V)[:, None]
        for start in range(0, n, chunk_rows):
            idx = np.arange(start, min(start + chunk_rows, n))
            E = np.asarray(self.E_cand[idx], dtype=np.float32)
            d = V @ E.T
            d *= -2.0
            d += vv
            d += np.einsum("ij,ij->i", E, E)[None, :]
            np.maximum(d, 0.0, out=d)
            np.sqrt(d, out=d)
            d *= inv
            d -= g[idx][None, :]
            yield idx, d

    def _chunks_on_backend(self, V, g, inv, chunk_rows):
        from tabsift.backend import get_namespace, sq_distances, to_numpy

        Vx = to_backend(V)
        xp = get_namespace(Vx)
        for start in range(0, len(self.E_cand), chunk_rows):
            idx = np.arange(start, min(start + chunk_rows, len(self.E_cand)))
            E = to_backend(np.asarray(self.E_cand[idx], dtype=np.float32))
            d = xp.sqrt(sq_distances(Vx, E, xp=xp)) * inv
            yield idx, to_numpy(d) - g[idx][None, :]


def solve_ot(C, solver, b=None):
    """OT between uniform weights on C's rows and ``b`` (default uniform) on its columns.

    Returns ``(cost, u, v, plan)``; ``u`` and ``v`` are the dual potentials
    of the rows and columns.
    """
    import ot

    k, m = C.shape
    a = np.full(k, 1.0 / k)
    b = np.full(m, 1.0 / m) if b is None else b
    if solver == "exact" or (solver == "auto" and k * m <= _EXACT_LIMIT):
        plan, log = ot.emd(a, b, C, log=True, numItermax=max(100_000, 50 * (k + m)))
        return float(log["cost"]), log["u"], log["v"], plan
    shift = C.min()
    Cs = C - shift
    reg = 0.02 * float(Cs.mean()) or 1e-3
    plan, log = ot.sinkhorn(
        a, b, Cs, reg, method="sinkhorn_log", numItermax=500, stopThr=1e-7, log=True, warn=False
    )
    cost = float((plan * C).sum())
    return cost, reg * log["log_u"], reg * log["log_v"], plan


def ot_select(costs, k, *, rng, solver="auto", max_swaps=20, n_swap_candidates=30, max_trials=10,
              slack=8, target_weight=None, verbose=0):
    """GORACS for one group: greedy build, then swaps shortlisted by the OT dual.

    ``target_weight`` (summing to 1) weighs the validation rows (default:
    uniform). Returns ``(indices into the candidates, history)``: the
    objective after the build and after each accepted swap (never increasing).
    """
    n, m = len(costs.E_cand), len(costs.E_val)
    b = target_weight
    if k >= n:
        sel = np.arange(n)
        value = solve_ot(costs.rows(sel), solver, b)[0]
        return sel, [value]
    # Greedy build. Each validation row keeps its r cheapest candidates (one
    # chunked pass, memory O(r m)); validation rows then claim, in rounds,
    # their cheapest unclaimed candidate, each round in farthest-first order of
    # the validation rows, until k rows are claimed. Every validation row so
    # receives about k/m rows, the uniform marginals of the transport problem.
    r = min(n, math.ceil(k * (1.0 / m if b is None else float(b.max()))) + slack)
    best_idx, row_min = _shortlists(costs, r, verbose)
    selected = _greedy_build(costs, best_idx, row_min, k, b, rng)
    return _refine_by_swaps(costs, best_idx, selected, k, b, solver=solver, max_swaps=max_swaps,
                            n_swap_candidates=n_swap_candidates, max_trials=max_trials,
                            verbose=verbose)


def _shortlists(costs, r, verbose):
    """Each validation row's ``r`` cheapest candidates, as (rank, validation row) indices.

    Also returns each candidate's cost to its cheapest validation row.
    """
    n, m = len(costs.E_cand), len(costs.E_val)
    best_cost = np.full((m, 0), np.inf, dtype=np.float32)
    best_idx = np.zeros((m, 0), dtype=np.int64)
    row_min = np.empty(n, dtype=np.float32)
    chunk_rows = max(1, (1 << 22) // m)
    for idx, CT in progress(costs.chunks_transposed(chunk_rows), verbose=verbose,
                            desc="OT shortlist", total=math.ceil(n / chunk_rows), unit="chunk"):
        row_min[idx] = CT.min(axis=0)
        cost_all = np.concatenate([best_cost, CT], axis=1)
        idx_all = np.concatenate([best_idx, np.broadcast_to(idx[None, :], CT.shape)], axis=1)
        if cost_all.shape[1] > r:
            part = np.argpartition(cost_all, r - 1, axis=1)[:, :r]
            cost_all = np.take_along_axis(cost_all, part, axis=1)
            idx_all = np.take_along_axis(idx_all, part, axis=1)
        best_cost, best_idx = cost_all, idx_all
    # Back to (rank, validation row) layout, each column sorted by cost.
    order_in_row = np.argsort(best_cost, axis=1, kind="stable")
    return np.take_along_axis(best_idx, order_in_row, axis=1).T, row_min


def _greedy_build(costs, best_idx, row_min, k, b, rng):
    """``k`` candidates claimed by the validation rows from their shortlists."""
    n = len(costs.E_cand)
    claim_order = _farthest_first_order(costs.E_val, rng)
    claimed = np.zeros(n, dtype=bool)
    if b is None:
        selected = _claim_rounds(best_idx, claim_order, claimed, k)
    else:
        selected = _claim_by_quota(best_idx, claim_order, claimed, k, b)
    if len(selected) < k:
        # Shortlists exhausted: fill with the candidates cheapest to any validation row.
        rest = np.flatnonzero(~claimed)
        fill = rest[np.argsort(row_min[rest], kind="stable")[: k - len(selected)]]
        selected.extend(fill.tolist())
        claimed[fill] = True
    return np.asarray(selected, dtype=np.int64)


def _refine_by_swaps(costs, best_idx, selected, k, b, *, solver, max_swaps, n_swap_candidates,
                     max_trials, verbose):
    """Swap refinement; returns ``(indices into the candidates, objective history)``."""
    # Swap refinement on a pool: the shortlists plus the selection.
    pool = np.unique(np.concatenate([best_idx.ravel(), selected]))
    C_pool = costs.rows(pool)
    pos = np.searchsorted(pool, selected)
    in_set = np.zeros(len(pool), dtype=bool)
    in_set[pos] = True
    value, u, v, plan = solve_ot(C_pool[pos], solver, b)
    history = [value]
    for _ in progress(range(max_swaps), verbose=verbose, desc="OT swaps", unit="swap"):
        outside = np.flatnonzero(~in_set)
        if len(outside) == 0:
            break
        # Dual shortlists: the selected rows with the largest potentials (the
        # most expensive to serve from) and the outside rows with the smallest
        # c-transform min_j (C_cj - v_j) (the cheapest to add).
        out_pos = np.argsort(-u, kind="stable")[: min(n_swap_candidates, k)]
        u_in = (C_pool[outside] - v[None, :]).min(axis=1)
        in_pool = outside[np.argsort(u_in, kind="stable")[: min(n_swap_candidates, len(outside))]]
        # Moving a selected row's transported mass, unchanged, to a new row is
        # a feasible plan, so this change bounds the swap's new objective; the
        # pairs with the most negative bound are re-solved first.
        routed = plan[out_pos]
        bound = routed @ C_pool[in_pool].T - (routed * C_pool[pos[out_pos]]).sum(axis=1)[:, None]
        sure = np.argsort(bound, axis=None, kind="stable")
        sure = sure[bound.ravel()[sure] < 0]
        # Then the pairs the dual does not rule out: keeping u for the other rows and giving
        # the entering row its c-transform is dual-feasible for the new problem, so the new
        # optimum is at least value + (u_in - u_out) / k; only pairs with u_in < u_out can
        # improve, the most promising first. (When k >= the validation rows, the greedy build
        # leaves no pair with a negative primal bound, and these are the only candidates.)
        gap = u_in[np.searchsorted(outside, in_pool)][None, :] - u[out_pos][:, None]
        maybe = np.argsort(gap, axis=None, kind="stable")
        maybe = maybe[(gap.ravel()[maybe] < 0) & (bound.ravel()[maybe] >= 0)]
        pairs = np.concatenate([sure, maybe])[:max_trials]
        accepted = False
        for flat in pairs:
            o, i = divmod(int(flat), len(in_pool))
            trial = pos.copy()
            trial[out_pos[o]] = in_pool[i]
            new_value, new_u, new_v, new_plan = solve_ot(C_pool[trial], solver, b)
            if new_value < value - 1e-12 * max(1.0, abs(value)):
                in_set[pos[out_pos[o]]] = False
                in_set[in_pool[i]] = True
                pos, value, u, v, plan = trial, new_value, new_u, new_v, new_plan
                history.append(value)
                accepted = True
                break
        if not accepted:
            break
    return pool[pos], history


def _claim_rounds(best_idx, claim_order, claimed, k):
    """Return the validation rows claim, in rounds, their cheapest unclaimed shortlisted candidate."""
    m = best_idx.shape[1]
    selected = []
    pointer = np.zeros(m, dtype=np.int64)
    progress_made = True
    while len(selected) < k and progress_made:
        progress_made = False
        for j in claim_order:
            while pointer[j] < best_idx.shape[0] and claimed[best_idx[pointer[j], j]]:
                pointer[j] += 1
            if pointer[j] < best_idx.shape[0]:
                c = best_idx[pointer[j], j]
                claimed[c] = True
                selected.append(c)
                progress_made = True
                if len(selected) == k:
                    break
    return selected


def _claim_by_quota(best_idx, claim_order, claimed, k, b):
    """Weighted claims: the validation row furthest below its quota ``k b_j`` claims next.

    With equal weights this is the rounds of :func:`_claim_rounds` (ties go
    to the earlier row in ``claim_order``).
    """
    m = best_idx.shape[1]
    rank = np.empty(m, dtype=np.int64)
    rank[claim_order] = np.arange(m)
    deficit = k * np.asarray(b, dtype=np.float64)
    pointer = np.zeros(m, dtype=np.int64)
    selected = []
    while len(selected) < k:
        best = deficit.max()
        if best == -np.inf:
            break
        tied = np.flatnonzero(deficit == best)
        j = tied[np.argmin(rank[tied])]
        while pointer[j] < best_idx.shape[0] and claimed[best_idx[pointer[j], j]]:
            pointer[j] += 1
        if pointer[j] == best_idx.shape[0]:
            deficit[j] = -np.inf  # shortlist exhausted
            continue
        c = best_idx[pointer[j], j]
        claimed[c] = True
        selected.append(c)
        deficit[j] -= 1.0
    return selected


def _farthest_first_order(E, rng):
    """Rows of ``E`` in farthest-first order (a random first row)."""
    from tabsift.sampling._kcenter import greedy_k_center

    m = len(E)
    order, _, _ = greedy_k_center(np.ascontiguousarray(E, dtype=np.float32), m,
                                  first=rng.randint(m))
    return order
