"""nploss.landscape: Hessian-vector products and the top of the spectrum against exact Hessians,
filter normalisation, and the slices' endpoints."""

from __future__ import annotations

import numpy as np
import pytest

import nploss.autograd as ag
from nploss import landscape, losses, nn

# ---------------------------------------------------------------------------- a quadratic


def _quadratic(seed: int = 0, eigenvalues=(5.0, -3.0, 2.0, 1.0, 0.5, 0.25, -0.1)):
    """L(x, y) = 1/2 z^T A z + b^T z with z = (x, vec y): its Hessian is A, everywhere."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((7, 7)))
    a = q @ np.diag(eigenvalues) @ q.T
    b = rng.standard_normal(7)

    def loss_fn(p):
        z = ag.concatenate([p["x"], ag.reshape(p["y"], (4,))])
        return 0.5 * ag.sum(z * ag.matmul(a, z)) + ag.sum(b * z)

    params = {"x": rng.standard_normal(3), "y": rng.standard_normal((2, 2))}
    return loss_fn, params, a


def test_hvp_of_a_quadratic_is_the_matrix_times_the_vector():
    loss_fn, params, a = _quadratic()
    v = {"x": np.array([1.0, -2.0, 0.5]), "y": np.array([[0.3, 0.0], [-1.0, 2.0]])}
    hv = landscape.flatten(landscape.hvp(loss_fn, params, v))
    np.testing.assert_allclose(hv, a @ landscape.flatten(v), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(landscape.hessian(loss_fn, params), a, rtol=1e-12, atol=1e-12)


def test_top_eigenvalues_of_a_quadratic_by_magnitude_with_deflation():
    loss_fn, params, a = _quadratic()
    eig = landscape.top_eigenvalues(loss_fn, params, k=3, iters=500, tol=1e-12, rng=1)
    np.testing.assert_allclose(eig.values, [5.0, -3.0, 2.0], rtol=1e-6)
    exact_values, exact_vectors = np.linalg.eigh(a)
    for value, vector in zip(eig.values, eig.vectors):
        u = landscape.flatten(vector)
        assert np.linalg.norm(u) == pytest.approx(1.0)
        expected = exact_vectors[:, np.argmin(np.abs(exact_values - value))]
        assert abs(u @ expected) == pytest.approx(1.0, abs=1e-6)  # the same line, either sign
    # the eigenvectors are orthogonal to one another
    gram = np.array([[landscape.dot(u, w) for w in eig.vectors] for u in eig.vectors])
    np.testing.assert_allclose(gram, np.eye(3), atol=1e-8)


def test_a_linear_loss_has_a_zero_hessian():
    params = {"w": np.array([1.0, 2.0])}
    hv = landscape.hvp(lambda p: ag.sum(3.0 * p["w"]), params, {"w": np.array([1.0, 1.0])})
    np.testing.assert_array_equal(hv["w"], 0.0)
    assert landscape.top_eigenvalues(lambda p: ag.sum(3.0 * p["w"]), params).values == [0.0]


# ---------------------------------------------------------------------------- a tiny MLP


class _Tanh(nn.Module):
    def forward(self, x):
        return ag.tanh(x)


def _mlp(seed: int = 0):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(3, 4, rng=rng), _Tanh(), nn.Linear(4, 3, rng=rng))
    x, y = rng.standard_normal((10, 3)), rng.integers(0, 3, 10)
    return model, landscape.model_loss(model, losses.cross_entropy, x, y)


def _fd_hessian(loss_fn, params, h=1e-5):
    """Central differences of the engine's gradient, one column per parameter entry."""
    flat = landscape.flatten(params)
    columns = []
    for i in range(flat.size):
        e = np.zeros_like(flat)
        e[i] = h
        plus = landscape.flatten(landscape.gradient(loss_fn, landscape.unflatten(flat + e, params)))
        minus = landscape.flatten(landscape.gradient(loss_fn, landscape.unflatten(flat - e, params)))
        columns.append((plus - minus) / (2 * h))
    return np.stack(columns, axis=1)


def test_hvp_and_top_eigenvalue_of_a_tiny_mlp_match_finite_differences_of_gradients():
    model, loss_fn = _mlp()
    params = landscape.parameters_of(model)
    exact = landscape.hessian(loss_fn, params)
    np.testing.assert_allclose(exact, exact.T, atol=1e-12)  # second derivatives commute
    numerical = _fd_hessian(loss_fn, params)
    np.testing.assert_allclose(exact, numerical, atol=1e-7, rtol=1e-5)
    rng = np.random.default_rng(3)
    v = {k: rng.standard_normal(p.shape) for k, p in params.items()}
    np.testing.assert_allclose(landscape.flatten(landscape.hvp(loss_fn, params, v)), numerical @ landscape.flatten(v), atol=1e-7, rtol=1e-5)
    eig = landscape.top_eigenvalues(loss_fn, params, k=2, iters=1000, tol=1e-12)
    spectrum = np.linalg.eigvalsh(numerical)
    by_magnitude = spectrum[np.argsort(-np.abs(spectrum))]
    np.testing.assert_allclose(eig.values, by_magnitude[:2], rtol=1e-5)


def test_the_model_is_left_as_it_was():
    model, loss_fn = _mlp()
    before = model.state_dict()
    params = landscape.parameters_of(model)
    landscape.hvp(loss_fn, params, landscape.random_direction(params, rng=0))
    landscape.slice_1d(loss_fn, params, landscape.random_direction(params, rng=1), [-1.0, 1.0])
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


# ---------------------------------------------------------------------------- directions and slices


def test_filter_normalised_directions_have_the_filter_norms_of_the_weights():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, rng=rng), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(12, 5, rng=rng))
    weights = landscape.parameters_of(model)
    weights["0.weight"] *= np.arange(1, 4)[:, None, None, None]  # filters of different sizes
    d = landscape.random_direction(weights, rng=7)
    assert set(d) == set(weights)
    for name, w in weights.items():
        assert d[name].shape == w.shape
        if w.ndim >= 2:
            axes = tuple(range(1, w.ndim))
            np.testing.assert_allclose(np.sqrt((d[name] ** 2).sum(axis=axes)), np.sqrt((w**2).sum(axis=axes)), rtol=1e-12)
            assert not np.allclose(d[name], w)  # a random direction, not the weights
        else:  # biases and BatchNorm parameters are not perturbed
            np.testing.assert_array_equal(d[name], 0.0)
    kept = landscape.random_direction(weights, rng=7, bias_bn="keep")
    np.testing.assert_array_equal(kept["1.weight"], weights["1.weight"])
    np.testing.assert_array_equal(kept["3.bias"], weights["3.bias"])
    np.testing.assert_allclose(kept["3.weight"], d["3.weight"])
    # the same seed gives the same direction
    np.testing.assert_array_equal(landscape.random_direction(weights, rng=7)["0.weight"], d["0.weight"])


def test_filter_normalize_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="bias_bn"):
        landscape.filter_normalize({"w": np.ones((2, 2))}, {"w": np.ones((2, 2))}, bias_bn="drop")
    with pytest.raises(ValueError, match="shape"):
        landscape.filter_normalize({"w": np.ones((2, 2))}, {"w": np.ones((2, 3))})
    with pytest.raises(ValueError, match="different parameters"):
        landscape.filter_normalize({"w": np.ones((2, 2))}, {"v": np.ones((2, 2))})


def test_interpolation_endpoints_are_the_losses_at_the_two_parameter_sets():
    model, loss_fn = _mlp()
    start = landscape.parameters_of(model)
    end = landscape.combine(start, (0.7, landscape.random_direction(start, rng=2, bias_bn="keep")))
    values = landscape.interpolate(loss_fn, start, end, [0.0, 0.5, 1.0])
    assert values[0] == landscape.evaluate(loss_fn, start)
    assert values[-1] == pytest.approx(landscape.evaluate(loss_fn, end), rel=1e-14)


def test_slices_are_centred_on_the_loss_at_the_centre():
    model, loss_fn = _mlp()
    center = landscape.parameters_of(model)
    d1, d2 = landscape.random_direction(center, rng=0), landscape.random_direction(center, rng=1)
    alphas, betas = np.linspace(-1, 1, 5), np.linspace(-1, 1, 3)
    grid = landscape.slice_2d(loss_fn, center, d1, d2, alphas, betas)
    assert grid.shape == (3, 5)
    assert grid[1, 2] == landscape.evaluate(loss_fn, center)
    np.testing.assert_allclose(grid[1], landscape.slice_1d(loss_fn, center, d1, alphas), rtol=1e-14)
    # a small step along d1 changes the loss at the rate of the directional derivative
    h = 1e-6
    around = landscape.slice_1d(loss_fn, center, d1, [-h, h])
    slope = landscape.dot(landscape.gradient(loss_fn, center), d1)
    assert (around[1] - around[0]) / (2 * h) == pytest.approx(slope, rel=1e-6)


def test_flatten_and_unflatten_are_inverse():
    params = {"a": np.arange(6.0).reshape(2, 3), "b": np.array([7.0])}
    np.testing.assert_array_equal(landscape.flatten(params), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0])
    back = landscape.unflatten(landscape.flatten(params), params)
    for k in params:
        np.testing.assert_array_equal(back[k], params[k])
    with pytest.raises(ValueError, match="entries"):
        landscape.unflatten(np.zeros(5), params)
