"""Fused NNGP/NTK recursion: every layer of a pair of inputs in one pass, numba (CPU) or JAX (any device).

The recursion is the one of dltheory.theory.infinite_width (Lee et al. 2018, arXiv:1711.00165, sec. 2.3;
Jacot et al. 2018, arXiv:1806.07572, Thm 1; neural-tangents' stax.serial(Dense, (phi, Dense) x depth), Novak et
al. 2020, arXiv:1912.02803): with (T, T') the dual kernel of phi (dltheory.theory.dual_kernels),

    Sigma^1 = weight_var x.x'/d + bias_var,   Sigma^{l+1} = weight_var T(Sigma^l) + bias_var,
    "ntk":      Theta^1 = Sigma^1,            Theta^{l+1} = Sigma^{l+1} + weight_var T'(Sigma^l) Theta^l,
    "standard": Theta^1 = x.x' + 1,           Theta^{l+1} = width T(Sigma^l) + 1 + weight_var T'(Sigma^l) Theta^l,

and with frozen biases (``train_bias=False``) the bias terms (bias_var, resp. 1) leave the NTK. In one form,
Theta^1 = w0 x.x'/d + b_ntk and Theta^{l+1} = w_ntk T + b_ntk + weight_var T' Theta^l, with (w0, w_ntk, b_ntk) =
(weight_var, weight_var, bias_var) for "ntk" and (d, width, 1) for "standard" (b_ntk = 0 for frozen biases).

Layout of the computation
-------------------------
- Per input (O(n depth)): the diagonal variances q_i^l = Sigma^l(x_i, x_i), their square roots, the diagonal
  (T, T')(q, q, q) (used verbatim for pairs of identical inputs, so rho = 1 exactly there) and, for Hermite
  activations, the per-layer coefficient tables of dual_kernels.hermite_coefficients.
- Per pair (O(n1 n2 depth)): the Gram matrix x1 x2^T / d is written by one BLAS call into the NNGP output, then
  a numba kernel (``nogil``, rows dealt to a persistent thread pool) runs all layers on a tile of 64 pairs at a
  time in registers/L1, vectorised across the tile (no Python loop over layers, no temporaries of size
  n1 x n2): the output arrays are the only O(n^2) memory. For x2 = None only the upper triangle is computed
  (rows dealt as 0, n-1, 1, n-2, ... so that the triangle balances across threads) and then mirrored.
- Hermite series: the tables are packed by parity (tanh: odd k only for T, even k for T'; Horner in rho^2) and
  truncated per tile at the first order whose Cauchy-Schwarz bound max|rho|^(k+1) sqrt(R_i(k) R_j(k)), with the
  tile's largest |rho| and the layer's largest relative tail energy, is below dual_kernels.HERMITE_TOL.
- JAX (``backend="jax"``): the same per-pair formulas (dual_kernels.jax_pair, one source with the numba
  ones) inside a jit-compiled ``lax.scan`` over layers, on blocks of rows; it runs on ``jax.default_device``
  (full Hermite series, no per-tile truncation).
Float64 throughout (JAX in a local ``jax.enable_x64`` context).
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from dltheory.theory import dual_kernels as dk
from dltheory.theory._validate import (
    MAX_DEPTH,
    choice,
    flag,
    instance,
    integer_at_least,
    nonnegative,
    overflow_guard,
    positive,
    real_array,
)

__all__ = ["nngp_ntk", "BACKENDS"]

BACKENDS = ("numba", "jax")
_TILE = 64
_LOG_TOL = math.log(dk.HERMITE_TOL)
_MAX_THREADS = 64
_MIN_PARALLEL = 1 << 17  # pair-layers below which one thread is faster than waking the pool
_FM = dk._FM
_JAX_BLOCK_ENTRIES = 1 << 22  # rows per JAX block: about this many pairs (x ~15 float64 temporaries)


# ----------------------------------------------------------------------------- numba kernel


@njit(inline="always", cache=True, error_model="numpy", fastmath=_FM)
def _update(jj, T, Td, same, dT, dD, kv, tv, coef):
    """One layer for pair jj of the tile: identical inputs take the diagonal (T, T') = (dT, dD) (rho = 1 exactly);
    Sigma <- weight_var T + bias_var, Theta <- w_ntk T + b_ntk + weight_var T' Theta."""
    wv, bv, w0, wt, bt = coef
    T = dT if same else T
    Td = dD if same else Td
    tv[jj] = wt * T + bt + wv * Td * tv[jj]
    kv[jj] = wv * T + bv


@njit(inline="always", cache=True, error_model="numpy", fastmath=_FM)
def _series(C1, C2, i, jt, m, rv, acc, xv, meta, logtail, lr):
    """acc[jj] = sum_r C1[r, i] C2[r, jt + jj] rho^(stride r + offset) over the stored rows r (one parity when
    the series has one), truncated at the first row r with rho_max^(next power) max_i sqrt(R_i(r) / E_i)^2 <=
    HERMITE_TOL (R_i(r) = energy beyond row r; dual_kernels' Cauchy-Schwarz bound); Horner in x = rho^stride."""
    nr, stride, offset = meta[0], meta[1], meta[2]
    r0 = nr - 1
    for r in range(nr):
        if (stride * (r + 1) + offset) * lr + 2.0 * logtail[r] <= _LOG_TOL:
            r0 = r
            break
    c = C1[r0, i]
    for jj in range(m):
        xv[jj] = rv[jj] * rv[jj] if stride == 2 else rv[jj]
        acc[jj] = c * C2[r0, jt + jj]
    for r in range(r0 - 1, -1, -1):
        c = C1[r, i]
        for jj in range(m):
            acc[jj] = acc[jj] * xv[jj] + c * C2[r, jt + jj]
    if offset == 1:
        for jj in range(m):
            acc[jj] *= rv[jj]


@njit(cache=True, error_model="numpy", fastmath=_FM)
def _row(i, j0, ok, ot, kind, P, side1, side2, series, coef):
    """All layers for the pairs (i, j), j >= j0, a tile of _TILE columns at a time. side = (Q, S, D, ids, A, B)
    per-input arrays (module docstring); series = (meta, logtail) of the packed Hermite tables (:func:`_pack`);
    coef = (weight_var, bias_var, w0, w_ntk, b_ntk)."""
    Q1, S1, D1, id1, A1, B1 = side1
    Q2, S2, D2, id2, A2, B2 = side2
    meta, logtail = series
    wv, bv, w0, wt, bt = coef  # noqa: F841 (w_ntk, b_ntk are used in _update)
    n2 = ok.shape[1]
    depth = Q1.shape[0]
    kv = np.empty(_TILE)
    tv = np.empty(_TILE)
    rv = np.empty(_TILE)
    aT = np.empty(_TILE)
    aD = np.empty(_TILE)
    aw = np.empty(_TILE)
    for jt in range(j0, n2, _TILE):
        m = min(_TILE, n2 - jt)
        for jj in range(m):
            k0 = ok[i, jt + jj]
            kv[jj] = wv * k0 + bv
            tv[jj] = w0 * k0 + bt
        for l in range(depth):
            q1, s1, dT, dD = Q1[l, i], S1[l, i], D1[l, 0, i], D1[l, 1, i]
            if kind == dk.HERMITE:
                rmax = 0.0
                for jj in range(m):
                    rv[jj] = dk.correlation(s1, S2[l, jt + jj], kv[jj])
                    if id1[i] != id2[jt + jj]:
                        rmax = max(rmax, abs(rv[jj]))
                lr = math.log(max(rmax, 1e-300))
                _series(A1[l], A2[l], i, jt, m, rv, aT, aw, meta[l, 0], logtail[l, 0], lr)
                _series(B1[l], B2[l], i, jt, m, rv, aD, aw, meta[l, 1], logtail[l, 1], lr)
                for jj in range(m):
                    _update(jj, aT[jj], aD[jj], id1[i] == id2[jt + jj], dT, dD, kv, tv, coef)
            elif kind == dk.AB_RELU:  # the light closed forms: inlined, vectorised across the tile
                for jj in range(m):
                    j, k = jt + jj, kv[jj]
                    T, Td = dk._f_ab_relu(P, q1, Q2[l, j], s1, S2[l, j], k, dk.correlation(s1, S2[l, j], k))
                    _update(jj, T, Td, id1[i] == id2[j], dT, dD, kv, tv, coef)
            elif kind == dk.ERF:
                for jj in range(m):
                    j, k = jt + jj, kv[jj]
                    T, Td = dk._f_erf(P, q1, Q2[l, j], s1, S2[l, j], k, dk.correlation(s1, S2[l, j], k))
                    _update(jj, T, Td, id1[i] == id2[j], dT, dD, kv, tv, coef)
            elif kind == dk.GELU:
                for jj in range(m):
                    j, k = jt + jj, kv[jj]
                    T, Td = dk._f_gelu(P, q1, Q2[l, j], s1, S2[l, j], k, dk.correlation(s1, S2[l, j], k))
                    _update(jj, T, Td, id1[i] == id2[j], dT, dD, kv, tv, coef)
            else:  # every other family: one call per pair
                for jj in range(m):
                    j, k = jt + jj, kv[jj]
                    T, Td = dk.pair(kind, P, q1, Q2[l, j], s1, S2[l, j], k, dk.correlation(s1, S2[l, j], k))
                    _update(jj, T, Td, id1[i] == id2[j], dT, dD, kv, tv, coef)
        for jj in range(m):
            ok[i, jt + jj] = kv[jj]
            ot[i, jt + jj] = tv[jj]


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FM)
def _rows(rows, sym, ok, ot, kind, P, side1, side2, series, coef):
    """_row for each row in ``rows`` (j >= i when sym); releases the GIL, so threads run chunks in parallel."""
    for i in rows:
        _row(i, i if sym else 0, ok, ot, kind, P, side1, side2, series, coef)


@njit(cache=True, nogil=True)
def _mirror(blocks, a, b):
    """Copy the upper triangle of the square arrays a, b into their lower triangles, for the 64-row blocks given."""
    n = a.shape[0]
    for bi in blocks:
        for bj in range(bi + 1):
            for i in range(bi * 64, min(n, bi * 64 + 64)):
                for j in range(bj * 64, min(i, bj * 64 + 64)):
                    a[i, j] = a[j, i]
                    b[i, j] = b[j, i]


def _threads() -> int:
    """Worker threads: the CPUs this process may run on (capped)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(_MAX_THREADS, cpus))


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_threads(), thread_name_prefix="dltheory-kernels")


def _in_threads(fn, chunks, *args) -> None:
    """fn(chunk, *args) for every chunk, on a persistent thread pool (the numba kernels release the GIL); one
    chunk runs in the calling thread."""
    if len(chunks) == 1:
        fn(chunks[0], *args)
        return
    for f in [_pool().submit(fn, c, *args) for c in chunks]:
        f.result()


def _balanced(n: int, sym: bool, parts: int) -> list[np.ndarray]:
    """Rows split into ``parts`` chunks of equal work: for the triangle (sym) row i costs n - i, so rows are dealt
    in the order 0, n-1, 1, n-2, ... round-robin over the chunks."""
    order = np.arange(n)
    if sym:
        order = np.ravel(np.column_stack([order[: (n + 1) // 2], order[::-1][: (n + 1) // 2]]))[:n]
    return [np.ascontiguousarray(order[c::parts]) for c in range(parts) if c < n]


def _flush_if_formulas_changed() -> None:
    """numba's on-disk cache of the kernels above is keyed on this file alone, but they inline dual_kernels'
    formulas: when dual_kernels.py changes without this file changing (a development install), flush it."""
    from pathlib import Path

    src = Path(dk.__file__).stat()
    stamp = f"{src.st_mtime_ns} {src.st_size}"
    for fn in (_rows, _mirror):
        cache = getattr(fn, "_cache", None)
        if cache is None or not hasattr(cache, "flush"):
            continue
        marker = Path(cache.cache_path) / f"{__name__.rsplit('.', 1)[-1]}.{fn.__name__}.dual_kernels-stamp"
        try:
            if not marker.exists() or marker.read_text() != stamp:
                cache.flush()
                marker.write_text(stamp)
        except OSError:  # a read-only install: numba then keeps its cache in memory only
            pass


_flush_if_formulas_changed()


# ----------------------------------------------------------------------------- per-input precomputation


def _per_input(p: dk.DualPlan, U: np.ndarray, depth: int, wv: float, bv: float):
    """For the distinct inputs U: Q (depth, n) variances entering each activation, D (depth, 2, n) the diagonal
    (T, T'), and for Hermite plans the per-layer tables [(A, B, EA, EB)] of dual_kernels.hermite_coefficients."""
    n, d = U.shape
    Q = np.empty((depth, n))
    D = np.empty((depth, 2, n))
    q = wv * np.einsum("ij,ij->i", U, U) / d + bv
    tables = []
    for l in range(depth):
        Q[l] = q
        if p.kind == dk.HERMITE:
            tables.append(p.tables(q))
            D[l, 0], D[l, 1] = tables[-1][2:]
        else:
            D[l, 0], D[l, 1] = p.diagonal(q)
        q = wv * D[l, 0] + bv
    return Q, D, tables


def _padded(tables: list, depth: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The tables as arrays (depth, K_max + 1, n), zero-padded (the JAX backend's layout)."""
    K = max((t[0].shape[0] for t in tables), default=1)
    A, B = np.zeros((depth, K, n if tables else 1)), np.zeros((depth, K, n if tables else 1))
    for l, (a, b, _, _) in enumerate(tables):
        A[l, : a.shape[0]], B[l, : b.shape[0]] = a, b
    return A, B


def _pack(C: np.ndarray, E: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int], np.ndarray]:
    """One series sum_k C[k, i] C[k, j] rho^k in the numba layout: the rows of one parity when the other one
    carries no energy (odd phi: odd k only; Hermite polynomials have parity (-1)^k), with (rows, stride, offset)
    and log max_i sqrt(R_i(r) / E_i), R_i(r) = energy beyond stored row r (plus the table's own truncation
    tail and any dropped rows), for the per-tile truncation of :func:`_series`."""
    sq = C * C
    scale = np.where(E > 0, E, 1.0)
    rel = sq / scale
    stride, offset, rows = 1, 0, C
    dropped = np.zeros_like(E)
    for par in (0, 1):
        if C.shape[0] > 1 and np.max(rel[1 - par :: 2].sum(0)) <= 1e-28:
            stride, offset, rows = 2, par, C[par::2]
            dropped = rel[1 - par :: 2].sum(0)
    table_tail = np.maximum(E - sq.sum(0), 0.0) / scale
    kept = rel[offset::stride]
    beyond = np.cumsum(kept[::-1], 0)[::-1]
    beyond = np.concatenate([beyond[1:], np.zeros((1, beyond.shape[1]))]) + table_tail + dropped
    logtail = 0.5 * np.log(np.maximum(beyond.max(1), 1e-300))
    return rows, (rows.shape[0], stride, offset), logtail


def _packed(tables: list, depth: int, n: int):
    """Per layer the packed T and T' series: arrays (depth, R, n) and the (meta, logtail) of :func:`_row`."""
    packs = [(_pack(a, ea), _pack(b, eb)) for a, b, ea, eb in tables]
    R = max((pk[0].shape[0] for pair in packs for pk in pair), default=1)
    A, B = np.zeros((depth, R, n if packs else 1)), np.zeros((depth, R, n if packs else 1))
    meta = np.zeros((depth, 2, 3), dtype=np.int64)
    logtail = np.zeros((depth, 2, R))
    for l, pair in enumerate(packs):
        for t, (rows, m, lt) in enumerate(pair):
            (A if t == 0 else B)[l, : rows.shape[0]] = rows
            meta[l, t] = m
            logtail[l, t, : lt.size] = lt
    return A, B, (meta, logtail)


@overflow_guard
def nngp_ntk(
    x1: np.ndarray,
    x2: np.ndarray | None,
    *,
    depth: int,
    plan: dk.DualPlan,
    weight_var: float,
    bias_var: float,
    standard: bool = False,
    width: float = 1.0,
    train_bias: bool = True,
    backend: str = "numba",
) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP, NTK) Gram matrices, float64, of the recursion in the module docstring; inputs already validated by
    dltheory.theory.infinite_width.kernels (the public entry point), and checked again here (cheap) for direct
    callers. x2 = None: x2 = x1 (symmetric)."""
    x1 = real_array("x1", x1, ndim=2)
    if x2 is not None:
        x2 = real_array("x2", x2, shape=(None, x1.shape[1]))
    depth = integer_at_least("depth", depth, 0, upper=MAX_DEPTH)
    instance("plan", plan, dk.DualPlan, "a dual_kernels.DualPlan (from dual_kernels.plan)")
    weight_var, bias_var = positive("weight_var", weight_var), nonnegative("bias_var", bias_var)
    standard, train_bias = flag("standard", standard), flag("train_bias", train_bias)
    width = positive("width", width)
    choice("backend", backend, BACKENDS)
    n1, d = x1.shape
    sym = x2 is None
    x2 = x1 if sym else x2
    U, inv = np.unique(x1 if sym else np.concatenate([x1, x2]), axis=0, return_inverse=True)
    inv = inv.ravel().astype(np.int64)
    id1, id2 = inv[:n1], (inv[:n1] if sym else inv[n1:])
    Q, D, tables = _per_input(plan, U, depth, weight_var, bias_var)
    S = np.sqrt(Q)
    w0, wt = (float(d), float(width)) if standard else (float(weight_var), float(weight_var))
    bt = (1.0 if standard else float(bias_var)) if train_bias else 0.0
    coef = (float(weight_var), float(bias_var), w0, wt, bt)
    if backend == "jax":
        A, B = _padded(tables, depth, U.shape[0])
        return _jax_nngp_ntk(x1, x2, plan, Q, S, D, A, B, id1, id2, coef, bool(tables))
    A, B, series = _packed(tables, depth, U.shape[0])
    hermite = bool(tables)  # per-input tables exist (a Hermite plan and depth >= 1)
    side1 = tuple(np.ascontiguousarray(a[..., id1]) for a in (Q, S, D)) + (id1,)
    side1 += tuple(np.ascontiguousarray(a[..., id1]) if hermite else a for a in (A, B))
    if sym:
        side2 = side1
    else:
        side2 = tuple(np.ascontiguousarray(a[..., id2]) for a in (Q, S, D)) + (id2,)
        side2 += tuple(np.ascontiguousarray(a[..., id2]) if hermite else a for a in (A, B))
    ok = np.empty((n1, x2.shape[0]))
    with dk._one_blas_thread():  # OpenBLAS's threads would keep spinning on the cores the kernel needs next
        np.matmul(x1, x2.T, out=ok)
    ok /= d
    ot = np.empty_like(ok)
    parts = _threads() if ok.size * max(depth, 1) >= _MIN_PARALLEL else 1
    _in_threads(_rows, _balanced(n1, sym, parts), sym, ok, ot, plan.kind, plan.P, side1, side2, series, coef)
    if sym:
        nb = (n1 + 63) // 64
        _in_threads(_mirror, _balanced(nb, True, min(parts, nb)), ok, ot)
    return ok, ot


# ----------------------------------------------------------------------------- JAX


@functools.lru_cache(maxsize=32)
def _jax_block_fn(kind: int, P: tuple):
    """jit-compiled block recursion: (x1 block, x2, per-layer per-input arrays) -> (NNGP, NTK) block."""
    import jax
    import jax.numpy as jnp

    corr = dk._jax_namespace()["correlation"]
    pair = dk.jax_pair(kind, np.array(P)) if kind != dk.HERMITE else None

    def run(x1, x2, side1, side2, same, coef):
        wv, bv, w0, wt, bt = coef
        k0 = x1 @ x2.T / x1.shape[1]
        k, t = wv * k0 + bv, w0 * k0 + bt

        def layer(carry, xs):
            k, t = carry
            (q1, s1, d1, a1, b1), (q2, s2, a2, b2) = xs
            rho = corr(s1[:, None], s2[None, :], k)
            if kind == dk.HERMITE:

                def horner(j, acc):
                    kk = a1.shape[0] - 1 - j
                    return (
                        acc[0] * rho + a1[kk][:, None] * a2[kk][None, :],
                        acc[1] * rho + b1[kk][:, None] * b2[kk][None, :],
                    )

                T, Td = jax.lax.fori_loop(0, a1.shape[0], horner, (jnp.zeros_like(k), jnp.zeros_like(k)))
            else:
                T, Td = pair(q1[:, None], q2[None, :], s1[:, None], s2[None, :], k, rho)
            T = jnp.where(same, d1[0][:, None], T)
            Td = jnp.where(same, d1[1][:, None], Td)
            return (wv * T + bv, wt * T + bt + wv * Td * t), None

        (k, t), _ = jax.lax.scan(layer, (k, t), (side1, side2))
        return k, t

    return jax.jit(run)


def _jax_nngp_ntk(x1, x2, plan, Q, S, D, A, B, id1, id2, coef, hermite):
    """The JAX backend on jax's default device: row blocks of about _JAX_BLOCK_ENTRIES pairs, one jit-compiled
    call each (the last block padded to the common shape)."""
    import jax
    import jax.numpy as jnp

    fn = _jax_block_fn(plan.kind, tuple(plan.P.tolist()))
    n1, n2 = x1.shape[0], x2.shape[0]
    rows = max(1, min(n1, _JAX_BLOCK_ENTRIES // max(n2, 1)))
    nngp, ntk = np.empty((n1, n2)), np.empty((n1, n2))

    def gather(a, ids):
        return jnp.asarray(a[..., ids] if hermite else np.broadcast_to(a, a.shape[:-1] + (ids.size,)))

    with jax.enable_x64(True):
        side2 = (jnp.asarray(Q[:, id2]), jnp.asarray(S[:, id2]), gather(A, id2), gather(B, id2))
        x2j = jnp.asarray(x2)
        for r0 in range(0, n1, rows):
            idx = np.minimum(np.arange(r0, r0 + rows), n1 - 1)
            ids = id1[idx]
            side1 = (
                jnp.asarray(Q[:, ids]),
                jnp.asarray(S[:, ids]),
                jnp.asarray(D[..., ids]),
                gather(A, ids),
                gather(B, ids),
            )
            same = jnp.asarray(ids[:, None] == id2[None, :])
            k, t = fn(jnp.asarray(x1[idx]), x2j, side1, side2, same, coef)
            m = min(rows, n1 - r0)
            nngp[r0 : r0 + m], ntk[r0 : r0 + m] = np.asarray(k)[:m], np.asarray(t)[:m]
    return nngp, ntk
