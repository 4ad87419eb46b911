"""neural-tangents side of bench_kernels_vs_neural_tangents.py; runs in neural-tangents' own virtual environment.

Protocol: one JSON command per line on stdin, one JSON answer per line on stdout. A command names a workload,
the .npy files of its inputs and where to write the results; the answer carries the wall time of the timed call
(after a warm-up call that compiles) and the output dtype. Imports neither dltheory nor anything outside that venv.
"""

from __future__ import annotations

import json
import sys
import time
import traceback

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402

_ANALYTIC = {}  # (activation spec, depth, wv, bv) -> jitted kernel_fn
_ENTK = {}


def _activation(spec: list):
    name, *args = spec
    return getattr(stax, name)(*args)


def _kernel_fn(act: list, depth: int, wv: float, bv: float):
    key = (json.dumps(act), depth, wv, bv)
    if key not in _ANALYTIC:
        dense = lambda: stax.Dense(1, W_std=float(np.sqrt(wv)), b_std=float(np.sqrt(bv)))  # noqa: E731
        layers = [dense()]
        for _ in range(depth):
            layers += [_activation(act), dense()]
        _ANALYTIC[key] = jax.jit(stax.serial(*layers)[2], static_argnames="get")
    return _ANALYTIC[key]


def _entk_fn(depth: int, width: int, wv: float, bv: float, implementation: int):
    key = (depth, width, wv, bv, implementation)
    if key not in _ENTK:
        dense = lambda n: stax.Dense(n, W_std=float(np.sqrt(wv)), b_std=float(np.sqrt(bv)))  # noqa: E731
        layers = []
        for _ in range(depth):
            layers += [dense(width), stax.Relu()]
        apply_fn = stax.serial(*layers, dense(1))[1]
        fn = nt.empirical_ntk_fn(apply_fn, trace_axes=(-1,), vmap_axes=0, implementation=implementation)
        _ENTK[key] = jax.jit(fn)
    return _ENTK[key]


def _timed(fn):
    fn()  # compile / warm up
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run(cmd: dict) -> dict:
    if cmd["kind"] == "analytic":
        x = np.load(cmd["x"])
        kf = _kernel_fn(cmd["activation"], cmd["depth"], cmd["weight_var"], cmd["bias_var"])
        xj = jax.device_put(x)

        def call():
            k = kf(xj, None, get=("nngp", "ntk"))
            return jax.block_until_ready((k.nngp, k.ntk))

        t, (nngp, ntk) = _timed(call)
        rows = cmd.get("rows")
        np.save(cmd["out_nngp"], np.asarray(nngp)[:rows])
        np.save(cmd["out_ntk"], np.asarray(ntk)[:rows])
        return {"time": t, "dtype": str(nngp.dtype)}
    if cmd["kind"] == "entk":
        x = np.load(cmd["x"])
        n_layers = cmd["depth"] + 1
        params = []
        for l in range(n_layers):
            params.append((jax.device_put(np.load(cmd["W"][l]).T), jax.device_put(np.load(cmd["b"][l]))))
            if l < n_layers - 1:
                params.append(())
        fn = _entk_fn(cmd["depth"], cmd["width"], cmd["weight_var"], cmd["bias_var"], cmd["implementation"])
        xj = jax.device_put(x)
        t, ntk = _timed(lambda: jax.block_until_ready(fn(xj, None, params)))
        np.save(cmd["out_ntk"], np.asarray(ntk))
        return {"time": t, "dtype": str(ntk.dtype)}
    if cmd["kind"] == "versions":
        import neural_tangents

        return {"neural_tangents": getattr(neural_tangents, "__version__", "?"), "jax": jax.__version__}
    raise ValueError(f"unknown command {cmd['kind']!r}")


def main() -> None:
    for line in sys.stdin:
        try:
            answer = run(json.loads(line))
        except Exception as e:  # report, keep serving
            answer = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
