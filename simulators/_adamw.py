"""One AdamW step on a pytree (bias-corrected Adam with decoupled weight decay; Loshchilov & Hutter 2019,
arXiv:1711.05101): w <- w (1 - lr weight_decay) - lr m_hat / (sqrt(v_hat) + eps). Shared by the JAX trainers."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def adamw_update(prm, m, v, t, g, lr, weight_decay, beta1, beta2, eps=1e-8):
    """Step ``t`` -> ``t + 1`` with gradient ``g``: returns the new (parameters, first moment, second moment, t)."""
    t = t + 1
    m = jax.tree_util.tree_map(lambda mi, gi: beta1 * mi + (1 - beta1) * gi, m, g)
    v = jax.tree_util.tree_map(lambda vi, gi: beta2 * vi + (1 - beta2) * gi**2, v, g)
    c1, c2 = 1 - beta1**t, 1 - beta2**t
    prm = jax.tree_util.tree_map(
        lambda w, mi, vi: w * (1 - lr * weight_decay) - lr * (mi / c1) / (jnp.sqrt(vi / c2) + eps), prm, m, v
    )
    return prm, m, v, t
