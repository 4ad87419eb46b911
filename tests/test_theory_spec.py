"""Unit tests of dltheory.theory.spec: SELU constants, phi' against phi, kinks, registry, shaped ReLU slopes."""

import jax
import numpy as np
import pytest

from dltheory.theory import spec

CASES = {**spec.ACTIVATIONS, "ab_relu": spec.ab_relu(-0.3, 1.7), "leaky_relu": spec.leaky_relu(0.2)}
Z = np.linspace(-3.0, 3.0, 601) + 0.0037  # no grid point on a kink


def test_selu_constants_closed_form_equals_published_digits():
    """[Klambauer et al. 2017, eq. 14]: the closed forms agree with the published 32-digit values."""
    assert spec.SELU_LAMBDA == pytest.approx(1.0507009873554804934193349852946, rel=0, abs=1e-15)
    assert spec.SELU_ALPHA == pytest.approx(1.6732632423543772848170429916717, rel=0, abs=1e-15)


@pytest.mark.parametrize("name", sorted(CASES))
def test_dphi_is_the_derivative_of_phi(name):
    act, h = CASES[name], 1e-6
    fd = (act.phi(Z + h) - act.phi(Z - h)) / (2 * h)
    np.testing.assert_allclose(act.dphi(Z), fd, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("name", sorted(CASES))
def test_kinks_are_exactly_where_dphi_jumps(name):
    act, h = CASES[name], 1e-9
    jumps = [
        z for z in np.linspace(-3, 3, 61) if abs(act.dphi(np.array([z + h]))[0] - act.dphi(np.array([z - h]))[0]) > 1e-6
    ]
    assert tuple(float(z) for z in jumps) == pytest.approx(act.kinks, abs=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jax_phi_equals_numpy_phi(name):
    act = CASES[name]
    with jax.enable_x64(True):
        np.testing.assert_allclose(np.asarray(act.jax_phi(Z)), act.phi(Z), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", sorted(CASES))
def test_universality_class(name):
    act = CASES[name]
    assert act.universality in spec.UNIVERSALITY_CLASSES
    if act.universality == "scale_invariant":
        np.testing.assert_allclose(act.phi(2.5 * Z), 2.5 * act.phi(Z), rtol=1e-14, atol=1e-15)
    if act.universality == "k0":
        assert act.phi(np.zeros(1))[0] == 0.0 and act.dphi(np.zeros(1))[0] != 0.0


def test_registry_lookup():
    assert spec.get_activation("relu") is spec.ACTIVATIONS["relu"]
    act = spec.leaky_relu(0.1)
    assert spec.get_activation(act) is act
    with pytest.raises(ValueError, match="activation must be one of"):
        spec.get_activation("swish")


def test_relu_slopes():
    assert spec.relu_slopes(0.0, 0.0, 4, unshaped=True) == (1.0, 0.0, 2.0)
    s_plus, s_minus, c = spec.relu_slopes(1.0, -1.0, 16)
    assert (s_plus, s_minus) == (1.25, 0.75) and c == pytest.approx(2 / (1.25**2 + 0.75**2), rel=1e-15)
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        spec.relu_slopes(0.0, 0.0, 1)
    with pytest.raises(ValueError, match="c_plus, c_minus > -sqrt"):
        spec.relu_slopes(0.0, -5.0, 16)
