"""dltheory vs google's neural-tangents (NT 0.6.5), side by side on the same inputs, interleaved, in one run.

Run:  python benchmarks/bench_kernels_vs_neural_tangents.py --nt-python /work/nt_venv/bin/python \
          --nt-entk-python /work/nt_venv_jax0425/bin/python [--quick]
      (or NT_PYTHON / NT_ENTK_PYTHON). NT needs jax <= 0.5.3, so it runs in its own virtual environment, driven
      through benchmarks/_nt_worker.py over a pipe; create that environment with

          python3 -m venv /work/nt_venv
          /work/nt_venv/bin/pip install neural-tangents==0.6.5 jax==0.5.3 jaxlib==0.5.3 tf2jax==0.3.7

      (tf2jax 0.3.8 needs jax >= 0.7.1). NT's structured-derivatives empirical NTK fails on jax 0.5.3
      (jax.interpreters.ad.source_info_util is gone) but works on jax 0.4.25, which needs numpy < 2:

          python3 -m venv /work/nt_venv_jax0425
          /work/nt_venv_jax0425/bin/pip install neural-tangents==0.6.5 jax==0.4.25 jaxlib==0.4.25 tf2jax==0.3.6 "numpy<2"

      Without --nt-entk-python the empirical NTK runs in the --nt-python venv (and fails there on jax 0.5.3).

For every workload and repetition, NT and dltheory alternate (which one goes first alternates too), each after
a warm-up call that compiles; the table reports medians of --repeat runs and the ratio dltheory / NT (< 1:
dltheory is faster). Before timing, every workload checks that the two agree: max |difference| / max |kernel|
<= 1e-10 for the float64 analytic kernels, <= 1e-5 for the float32 empirical NTK. The machine bounds (float64 and
float32 GEMM GFLOP/s, arccos per entry) are measured in the same run; the empirical NTK's GEMM bound is
dltheory.simulators.ntk_gram.gemm_flops / the float32 GEMM rate. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from dltheory.simulators import mlp as sim
from dltheory.simulators import ntk_gram
from dltheory.theory import dual_kernels, spec
from dltheory.theory import infinite_width as iw
from dltheory.theory.gaussian import bivariate_expectation, gaussian_expectation

HERE = Path(__file__).resolve().parent
CREATE = (
    "python3 -m venv /work/nt_venv && /work/nt_venv/bin/pip install neural-tangents==0.6.5 jax==0.5.3 "
    "jaxlib==0.5.3 tf2jax==0.3.7"
)
CREATE_ENTK = (
    "python3 -m venv /work/nt_venv_jax0425 && /work/nt_venv_jax0425/bin/pip install neural-tangents==0.6.5 "
    'jax==0.4.25 jaxlib==0.4.25 tf2jax==0.3.6 "numpy<2"'
)
WV, BV = 2.0, 0.1  # NT: Dense(W_std=sqrt 2, b_std=sqrt 0.1)


class NT:
    """The neural-tangents worker process (benchmarks/_nt_worker.py in NT's venv)."""

    def __init__(self, python: str, tmp: Path):
        self.tmp = tmp
        self.proc = subprocess.Popen(
            [python, str(HERE / "_nt_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"},
        )

    def __call__(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the neural-tangents worker died")
            try:
                answer = json.loads(line)
                break
            except json.JSONDecodeError:
                continue  # stray output of TensorFlow or JAX
        if "error" in answer:
            raise RuntimeError(f"neural-tangents worker: {answer['error']}\n{answer.get('traceback', '')}")
        return answer

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def timed(fn) -> tuple[float, object]:
    fn()  # warm-up (compiles)
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))) / np.max(np.abs(b)))


# ----------------------------------------------------------------------------- machine bounds


def machine_bounds(repeat: int) -> dict:
    out = {}
    for name, dt, n in (("float64", np.float64, 2000), ("float32", np.float32, 2000)):
        A = np.random.default_rng(0).standard_normal((n, n)).astype(dt)
        ts = [timed(lambda: A @ A)[0] for _ in range(repeat)]
        out[f"{name} GEMM (numpy, {n}^3)"] = 2 * n**3 / min(ts) / 1e9
    with jax.enable_x64(False):  # the eNTK's shapes, in JAX (the library the eNTK runs in)
        a = jnp.asarray(np.random.default_rng(1).standard_normal((128, 1024)), jnp.float32)
        w = jnp.asarray(np.random.default_rng(2).standard_normal((1024, 1024)), jnp.float32)
        f = jax.jit(lambda a, w: a @ w.T)
        ts = [timed(lambda: f(a, w).block_until_ready())[0] for _ in range(max(repeat, 10))]
        out["float32 GEMM (JAX, 128x1024x1024)"] = 2 * 128 * 1024 * 1024 / min(ts) / 1e9
    x = np.random.default_rng(3).uniform(-1, 1, 4_000_000)
    ts = [timed(lambda: np.arccos(x))[0] for _ in range(repeat)]
    out["arccos (numpy, ns per entry, 1 thread)"] = min(ts) / x.size * 1e9
    return out


# ----------------------------------------------------------------------------- workloads


def analytic_workloads(quick: bool) -> list[dict]:
    """The analytic-kernel workloads: dltheory activation, NT activation spec, n, depth, weight/bias variance."""
    sizes = [250, 500, 1000, 2000] if quick else [250, 500, 1000, 2000, 4000, 8000]
    w = []
    for act, nt_act in (("relu", ["Relu"]), ("erf", ["Erf"])):
        w.append(dict(label=f"NNGP+NTK, {act}, 2000 x 2000, depth 10", act=act, nt=nt_act, n=2000, depth=10))
    for act, nt_act in (("relu", ["Relu"]), ("erf", ["Erf"])):
        w.append(
            dict(
                label=f"same, {act}, dltheory's JAX backend (jit, lax.scan over layers)",
                act=act,
                nt=nt_act,
                n=2000,
                depth=10,
                backend="jax",
            )
        )
    for n in sizes:
        if n != 2000:
            w.append(dict(label=f"same, relu, n = {n}", act="relu", nt=["Relu"], n=n, depth=10, scaling=True))
    for n in (100, 500):
        w.append(dict(label=f"gelu, {n} x {n}, depth 10 (both closed form)", act="gelu", nt=["Gelu"], n=n, depth=10))
    w.append(
        dict(
            label="tanh (dltheory Hermite) vs NT gelu (closed form), 500 x 500, depth 10",
            act="tanh",
            nt=["Gelu"],
            n=500,
            depth=10,
            compare=False,
        )
    )
    for wl in w:
        wl.setdefault("wv", 1.5 if wl["act"] in ("gelu", "tanh") else WV)
        wl.setdefault("bv", BV)
    others = [
        ("abs", "abs", ["Abs"]),
        ("leaky relu 0.1", spec.leaky_relu(0.1), ["LeakyRelu", 0.1]),
        ("ab-relu(-0.3, 1.7)", spec.ab_relu(-0.3, 1.7), ["ABRelu", -0.3, 1.7]),
        ("erf(1.3, 0.7, 0.2)", spec.scaled_erf(1.3, 0.7, 0.2), ["Erf", 1.3, 0.7, 0.2]),
        ("sign", "sign", ["Sign"]),
        ("sin(1.2, 0.8, 0.3)", spec.sin(1.2, 0.8, 0.3), ["Sin", 1.2, 0.8, 0.3]),
        ("cos", "cos", ["Cos"]),
        ("rbf(0.5)", spec.rbf(0.5), ["Rbf", 0.5]),
        ("exp(0.5, 0.3)", spec.exponential(0.5, 0.3), ["Exp", 0.5, 0.3]),
        ("gaussian(1, -0.5)", spec.gaussian(1.0, -0.5), ["Gaussian", 1.0, -0.5]),
        ("monomial(3)", spec.monomial(3), ["Monomial", 3]),
        ("rectified monomial(2)", spec.rectified_monomial(2), ["RectifiedMonomial", 2]),
        (
            "polynomial(0.1, 1, -0.3, 0.2)",
            spec.polynomial([0.1, 1.0, -0.3, 0.2]),
            ["Polynomial", [0.1, 1.0, -0.3, 0.2]],
        ),
    ]
    for label, act, nt_act in others:  # weight_var 1, bias_var 0.01: polynomials and exponentials grow fast
        w.append(dict(label=f"{label}, 300 x 300, depth 3", act=act, nt=nt_act, n=300, depth=3, wv=1.0, bv=0.01))
    return w


def diagonal_reference(x: np.ndarray, act, depth: int, wv: float, bv: float) -> tuple[np.ndarray, np.ndarray]:
    """NNGP and NTK diagonals by the one-input recursion with 1-D kink-split quadrature (dltheory.theory.gaussian,
    ~1e-14): Sigma^{l+1} = wv E[phi(sqrt(q) Z)^2] + bv, Theta^{l+1} = Sigma^{l+1} + wv E[phi'(sqrt(q) Z)^2] Theta^l."""
    a = spec.get_activation(act)
    q = wv * np.sum(x * x, 1) / x.shape[1] + bv
    t = q.copy()
    for _ in range(depth):
        T = np.array([gaussian_expectation(lambda z: a.phi(z) ** 2, v, (0.0,)) for v in q])
        Td = np.array([gaussian_expectation(lambda z: a.dphi(z) ** 2, v, (0.0,)) for v in q])
        q, t = wv * T + bv, wv * T + bv + wv * Td * t
    return q, t


def run_analytic(nt: NT, tmp: Path, work: list[dict], repeat: int, max_nt_n: int) -> list[dict]:
    rows = []
    for wl in work:
        x = np.random.default_rng(wl["n"]).standard_normal((wl["n"], 10))
        wv, bv = wl["wv"], wl["bv"]
        np.save(tmp / "x.npy", x)
        keep = None if wl["n"] <= 2000 else 64
        call_nt = wl["n"] <= max_nt_n
        cmd = dict(
            kind="analytic",
            x=str(tmp / "x.npy"),
            activation=wl["nt"],
            depth=wl["depth"],
            weight_var=wv,
            bias_var=bv,
            out_nngp=str(tmp / "nngp.npy"),
            out_ntk=str(tmp / "ntk.npy"),
            rows=keep,
        )
        kw = dict(
            depth=wl["depth"], activation=wl["act"], weight_var=wv, bias_var=bv, backend=wl.get("backend", "numba")
        )
        ours = lambda: iw.kernels(x, **kw)  # noqa: E731
        t_nt, t_dl, err = [], [], None
        for r in range(repeat):
            for who in (0, 1) if r % 2 == 0 else (1, 0):
                if who == 0 and call_nt:
                    t_nt.append(nt(**cmd)["time"])
                elif who == 1:
                    t, k = timed(ours)
                    t_dl.append(t)
            if r == 0 and call_nt and wl.get("compare", True):
                err = compare(k, np.load(tmp / "nngp.npy"), np.load(tmp / "ntk.npy"), x, wl, wv, bv)
        rows.append(dict(wl, t_nt=np.median(t_nt) if t_nt else math.nan, t_dl=float(np.median(t_dl)), err=err))
        print_row(rows[-1], "analytic")
    return rows


def compare(k, nngp: np.ndarray, ntk: np.ndarray, x: np.ndarray, wl: dict, wv: float, bv: float) -> dict:
    """Off-diagonal and diagonal max |dltheory - NT| / max |NT| over NNGP and NTK, and both diagonals against
    the 1-D quadrature recursion (first 8 inputs)."""
    m = nngp.shape[0]
    if np.isnan(nngp).any() or np.isnan(ntk).any():
        return dict(nan=True)
    off = ~np.eye(m, k.nngp.shape[1], dtype=bool)
    out = dict(off=0.0, diag=0.0)
    for ours, theirs in ((k.nngp[:m], nngp), (k.ntk[:m], ntk)):
        d = np.abs(ours - theirs) / np.max(np.abs(theirs))
        out["off"] = max(out["off"], float(d[off].max()))
        out["diag"] = max(out["diag"], float(d[~off].max()))
    q, t = diagonal_reference(x[:8], wl["act"], wl["depth"], wv, bv)
    rel = lambda a, b: float(np.max(np.abs(a - b) / np.abs(b)))  # noqa: E731
    out["ours_vs_quad"] = max(rel(np.diag(k.nngp)[:8], q), rel(np.diag(k.ntk)[:8], t))
    out["nt_vs_quad"] = max(rel(np.diag(nngp)[:8], q), rel(np.diag(ntk)[:8], t))
    return out


def gemm_only(m, n: int):
    """A jitted function doing exactly the GEMMs of ntk_gram.empirical_ntk for this MLP and n points (forward,
    backward, Grams; same shapes, float32) and nothing else: the measured GEMM bound."""
    g = np.random.default_rng(11)
    dims = [m.d] + [m.width] * m.depth
    Ws = [jnp.asarray(g.standard_normal((b, a)), jnp.float32) for a, b in zip(dims, dims[1:] + [m.n_out])]
    x = jnp.asarray(g.standard_normal((n, m.d)), jnp.float32)

    @jax.jit
    def run(x, Ws):
        hs, h = [x], x
        for W in Ws[:-1]:
            h = h @ W.T
            hs.append(h)
        gs, gv = [], jnp.broadcast_to(Ws[-1], (n, m.width))
        for W in Ws[-2:0:-1]:
            gs.append(gv)
            gv = gv @ W
        gs.append(gv)
        return sum(a @ a.T for a in hs) + sum(b @ b.T for b in gs)

    return lambda: run(x, Ws).block_until_ready()


def run_entk(nt: NT, tmp: Path, repeat: int, gemm32: float) -> list[dict]:
    """The empirical NTK of a relu MLP in float32: NT's structured derivatives vs ntk_gram, interleaved with the
    GEMM-only function of the same shapes (the bound), each a median of ``repeat``."""
    rows = []
    n, d, width, depth = 128, 128, 1024, 3
    with jax.enable_x64(False):
        m = sim.MLP(d=d, width=width, depth=depth, activation="relu", weight_var=WV, bias_var=BV)
        params = sim.init(m, 1, seed=0)
        x = np.random.default_rng(7).standard_normal((n, d)).astype(np.float32)
        np.save(tmp / "ex.npy", x)
        Ws, bs = [], []
        for l, (W, b) in enumerate(params):
            np.save(tmp / f"W{l}.npy", np.asarray(W[0]))
            np.save(tmp / f"b{l}.npy", np.asarray(b[0]))
            Ws.append(str(tmp / f"W{l}.npy"))
            bs.append(str(tmp / f"b{l}.npy"))
        ours = lambda: sim.empirical_ntk(m, params, x).block_until_ready()  # noqa: E731
        bound_fn = gemm_only(m, n)
        cmd = dict(
            kind="entk",
            x=str(tmp / "ex.npy"),
            W=Ws,
            b=bs,
            depth=depth,
            width=width,
            weight_var=WV,
            bias_var=BV,
            implementation=3,  # NtkImplementation.STRUCTURED_DERIVATIVES, NT's fastest
            out_ntk=str(tmp / "entk.npy"),
        )
        t_nt, t_dl, t_gemm, err = [], [], [], None
        for r in range(repeat):
            for who in (0, 1, 2) if r % 2 == 0 else (2, 1, 0):
                if who == 0:
                    ans = nt(**cmd)
                    t_nt.append(ans["time"])
                elif who == 1:
                    t, k = timed(ours)
                    t_dl.append(t)
                else:
                    t_gemm.append(timed(bound_fn)[0])
            if r == 0:
                err = rel_err(np.asarray(k)[0], np.load(tmp / "entk.npy"))
                assert np.asarray(k).dtype == np.float32 and ans["dtype"] == "float32", (np.asarray(k).dtype, ans)
        flops = ntk_gram.gemm_flops(m, n)
        rows.append(
            dict(
                label=f"empirical NTK, MLP {n} inputs x {d}, width {width}, {depth} hidden, float32 (NT structured derivatives)",
                t_nt=float(np.median(t_nt)),
                t_dl=float(np.median(t_dl)),
                err=err,
                bound=float(np.median(t_gemm)),
                flops=flops,
                peak_bound=flops / (gemm32 * 1e9),
            )
        )
        print_row(rows[-1], "entk")
    return rows


def accuracy_vs_quadrature() -> list[tuple[str, float]]:
    """max |T - T_quad| / sqrt(T(q1,q1) T(q2,q2)) (and the same for T') over a few covariances, against the
    kink-split nested Gauss-Legendre quadrature of dltheory.theory.gaussian (~1e-13)."""
    pts = [(1.0, 1.0, 0.3), (2.5, 0.4, -0.6), (0.7, 1.9, 1.1), (1.5, 1.5, 1.45), (3.0, 2.0, -2.4)]
    acts = [
        "relu",
        "abs",
        "erf",
        "gelu",
        "sign",
        "step",
        "sin",
        "cos",
        "tanh",
        "softplus",
        "silu",
        "selu",
        "elu",
        spec.leaky_relu(0.1),
        spec.elu(0.5),
        spec.rbf(0.5),
        spec.exponential(0.5, 0.3),
        spec.gaussian(1.0, -0.5),
        spec.monomial(3),
        spec.rectified_monomial(2),
        spec.rectified_monomial(3),
        spec.polynomial([0.1, 1, -0.3]),
    ]
    out = []
    for a in acts:
        act = spec.get_activation(a)
        kinks = (0.0,)
        worst = 0.0
        for q1, q2, k in pts:
            T, Td = dual_kernels.dual_kernel(act, q1, q2, k)
            for f, val in ((act.phi, T), (act.dphi, Td)):
                ref = bivariate_expectation(f, f, q1, q2, k, kinks)
                scale = math.sqrt(
                    bivariate_expectation(f, f, q1, q1, q1, kinks) * bivariate_expectation(f, f, q2, q2, q2, kinks)
                )
                if scale > 0:
                    worst = max(worst, abs(float(val) - ref) / scale)
        out.append((f"{act.name} ({dual_kernels.method(act)})", worst))
    return out


# ----------------------------------------------------------------------------- output


def fmt_t(t: float) -> str:
    if not math.isfinite(t):
        return "-"
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def print_row(r: dict, kind: str) -> None:
    ratio = r["t_dl"] / r["t_nt"] if math.isfinite(r["t_nt"]) else math.nan
    e = r["err"]
    if e is None:
        err = "-"
    elif kind == "entk":
        err = f"{e:.1e}"
    elif e.get("nan"):
        err = "NT returns NaN"
    else:
        err = f"{e['off']:.1e} ({e['diag']:.1e})"
    extra = ""
    if kind == "entk":
        extra = (
            f" GEMM bound (the same {r['flops'] / 1e9:.2f} GFLOP of GEMMs alone, same run) {fmt_t(r['bound'])}: "
            f"dltheory / bound {r['t_dl'] / r['bound']:.2f} (at the 128x1024x1024 GEMM rate: {fmt_t(r['peak_bound'])});"
        )
    if r.get("scaling"):
        extra = f" dltheory {r['t_dl'] / r['n'] ** 2 * 1e9:.1f} ns per entry;"
    if e and kind == "analytic" and "ours_vs_quad" in e:
        extra += f" diagonal vs 1-D quadrature: dltheory {e['ours_vs_quad']:.0e}, NT {e['nt_vs_quad']:.0e}"
    print(
        f"| {r['label']} | {fmt_t(r['t_nt'])} | {fmt_t(r['t_dl'])} | {ratio:.3f} | {err} | {extra.strip(' ;')} |",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nt-python", default=os.environ.get("NT_PYTHON"), help="python of NT's venv (or NT_PYTHON)")
    ap.add_argument(
        "--nt-entk-python",
        default=os.environ.get("NT_ENTK_PYTHON"),
        help="python of a venv where NT's structured-derivatives eNTK runs (jax 0.4.25); default --nt-python",
    )
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="n up to 2000 and 3 repetitions")
    ap.add_argument("--max-nt-n", type=int, default=4000, help="largest n run through NT (it is O(n^2) too)")
    args = ap.parse_args()
    for python, how in ((args.nt_python, CREATE), (args.nt_entk_python or args.nt_python, CREATE_ENTK)):
        if not python or not Path(python).exists():
            print(
                f"neural-tangents' python not found ({python!r}); create its venv with\n    {how}\n"
                "and pass --nt-python /work/nt_venv/bin/python --nt-entk-python /work/nt_venv_jax0425/bin/python "
                "(or set NT_PYTHON, NT_ENTK_PYTHON).",
                file=sys.stderr,
            )
            sys.exit(2)
    repeat = 3 if args.quick else args.repeat
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        nt = NT(args.nt_python, tmp)
        nt_e = NT(args.nt_entk_python, tmp) if args.nt_entk_python else nt
        try:
            v, ve = nt(kind="versions"), nt_e(kind="versions")
            print(
                f"neural-tangents {v['neural_tangents']} (jax {v['jax']}; empirical NTK on jax {ve['jax']}) vs "
                f"dltheory (jax {jax.__version__}); {os.cpu_count()} CPUs; medians of {repeat}, interleaved\n"
            )
            bounds = machine_bounds(repeat)
            print("machine bounds (same run):")
            for k, val in bounds.items():
                print(f"  {k}: {val:.1f}" + ("" if "ns" in k else " GFLOP/s"))
            print("\nmax rel. difference: off the diagonal (on the diagonal, identical inputs), over NNGP and NTK,")
            print("relative to max |NT|; the diagonal is also checked against a 1-D quadrature recursion.\n")
            print(
                "| workload (float64 unless said) | NT | dltheory | dltheory / NT time | max rel. difference | notes |"
            )
            print("|---|---|---|---|---|---|")
            run_analytic(nt, tmp, analytic_workloads(args.quick), repeat, args.max_nt_n)
            run_entk(nt_e, tmp, max(repeat, 5), bounds["float32 GEMM (JAX, 128x1024x1024)"])
        finally:
            nt.close()
            if nt_e is not nt:
                nt_e.close()
    print("\naccuracy of the dual kernels against nested kink-split quadrature (max over 5 covariances, T and T'):")
    for name, err in accuracy_vs_quadrature():
        print(f"  {name}: {err:.1e}")


if __name__ == "__main__":
    main()
