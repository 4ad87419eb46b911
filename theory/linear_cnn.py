"""Two-layer linear CNNs with circular convolutions: the DFT decouples learning into one Saxe mode per frequency.

References
----------
- [PLG23] H. Pinson, J. Lenaerts, V. Ginis, "Linear CNNs discover the statistical structure of the dataset using
  only the most dominant frequencies", ICML 2023, arXiv:2303.02034: stage-like learning of the Fourier modes of
  the input-output correlation (abstract; the paper's equations were not accessible here).
- [SMG14] A. M. Saxe, J. L. McClelland, S. Ganguli, arXiv:1312.6120, eqs 11-12 (dltheory.theory.deep_linear).

Conventions [D, here]
---------------------
Input x in R^N with E[x x^T] = I, target y with E[y x^T] = A circulant (first column ``a``), loss
L = (1/2) E||y - f(x)||^2 = (1/2) ||A - B||_F^2 + const. The network has C channels: h_c = w_c (*) x, f =
sum_c v_c (*) h_c ((*) circular convolution, kernels w_c, v_c in R^N), so B is circulant with DFT eigenvalues
beta(omega) = sum_c v^_c(omega) w^_c(omega), hat = unnormalised DFT (numpy.fft.fft), and
||A - B||_F^2 = sum_omega |s(omega) - beta(omega)|^2 with s = fft(a). Gradient descent on the real kernels with
learning rate eta gives, per frequency, d w^_c / d step = eta N r v^_c^*, d v^_c / d step = eta N r w^_c^*
(r = s - beta; the factor N is the weight sharing: every kernel entry is used at N positions). With the balanced
init v_c = w_c time-reversed (v^_c = w^_c^*), beta(omega) = sum_c |w^_c(omega)|^2 obeys the two-layer Saxe
equation d beta / d step = 2 eta N beta (s - beta): [SMG14] eq 12 for every frequency with tau = 1 / (eta N)
steps, independent of the other frequencies. A dense two-layer linear MLP on the same data has the same modes
with tau = 1 / eta.

First-layer kernel size k < N (entries j >= k held at 0) [D, here]: the gradient of w^_c(omega) is projected by
the Dirichlet kernel D_k(Delta) = sum_{j<k} e^{-2 pi i Delta j / N} (D_k(0) = k). For one dominant frequency pair
+-omega (0 < omega < N/2; target s there, 0 elsewhere) the early, linear phase (beta << s, r = s) reads
d w^ / d step = eta s (k v^^* + D_k(2 omega) v^), d v^^* / d step = eta N s w^ (the conjugate frequency -omega
feeds back through D_k(2 omega)); the map W -> k W + D W^* has eigenvalues k +- |D|, so each factor grows at
eta s sqrt(N (k + |D_k(2 omega)|)) and beta = sum_c v^_c w^_c at twice that: the kernel size and the frequency
set the speed (k = N: |D_N(2 omega)| = 0 and the rate 2 eta N s of the full kernel).
"""

from __future__ import annotations

import numpy as np

from dltheory.theory._validate import integer, positive, real_array

__all__ = ["frequency_strengths", "cnn_time_constant", "early_growth_rate"]


def frequency_strengths(a) -> np.ndarray:
    """s(omega) = fft(a): the eigenvalues of the circulant correlation A with first column ``a`` (N,), the
    per-frequency singular values when A is symmetric (a_j = a_{N-j}); ValueError otherwise (complex s)."""
    a = real_array("a", a, ndim=1, min_size=2)
    if not np.allclose(a[1:], a[1:][::-1], rtol=0, atol=1e-12 * max(1.0, float(np.abs(a).max()))):
        raise ValueError("a must be symmetric (a_j = a_{N-j}) so that the circulant A has real eigenvalues")
    return np.fft.fft(a).real


def cnn_time_constant(N: int, eta: float) -> float:
    """tau = 1 / (eta N) in gradient steps: the Saxe time constant of every frequency of a two-layer circular
    linear CNN with full-size kernels on N positions and learning rate eta (module docstring)."""
    N = integer("N", N, lower=1, upper=10**8)
    return 1.0 / (positive("eta", eta) * N)


def early_growth_rate(s: float, omega: int, N: int, k: int, eta: float) -> float:
    """d ln|beta(omega)| / d step in the early phase: 2 eta s sqrt(N (k + |D_k(2 omega)|)), |D_k(Delta)| =
    |sin(pi k Delta / N) / sin(pi Delta / N)| (module docstring); first-layer kernel size k, 0 < omega < N / 2,
    gradient-flow rate (GD's per-step log growth is 2 log(1 + rate / 2), lower by a fraction ~ rate / 4)."""
    s = positive("s", s)
    N = integer("N", N, lower=3, upper=10**8)
    omega = integer("omega", omega, lower=1, upper=(N - 1) // 2)
    k = integer("k", k, lower=1, upper=N)
    eta = positive("eta", eta)
    dirichlet = abs(np.sum(np.exp(-2j * np.pi * 2 * omega * np.arange(k) / N)))
    return 2.0 * eta * s * float(np.sqrt(N * (k + dirichlet)))
