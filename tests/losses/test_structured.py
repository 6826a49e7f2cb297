"""Structured prediction and the optax-like classification losses: optax, Keras and kornia reference
values and gradients (tests/fixtures/make_structured_references.py), closed forms, the
Fenchel-Young gradient, sparsemax's Jacobian and its convention at ties, edge cases, bad input."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest

import nploss.autograd as ag
import nploss.losses as L
from nploss.autograd import Tensor, grad

REFERENCES: dict[str, dict[str, np.ndarray]] = {}
with np.load(pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "references" / "structured.npz") as _data:
    for _key in _data.files:
        if "/" in _key:
            _case, _name = _key.split("/")
            REFERENCES.setdefault(_case, {})[_name] = _data[_key]


def _omega(y, regularizer):
    """Omega(y), which optax's make_fenchel_young_loss leaves out."""
    if regularizer == "shannon":
        return np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0), axis=-1)
    return 0.5 * (np.sum(y * y, axis=-1) - 1.0)


def _js_heatmaps(pred, target):
    b, c, h, w = pred.shape
    out = L.js_div(ag.reshape(pred, (b * c, h * w)), ag.reshape(target, (b * c, h * w)), reduction="none")
    return ag.reshape(out, (b, c))


# nploss as a function of the library's named inputs, returning the library's unreduced values
NPLOSS = {
    "generalized_kl": lambda log_predictions, targets: L.generalized_kl(log_predictions, targets, reduction="none"),
    "js_div": _js_heatmaps,
    "gce-q0.5": lambda y_true, y_pred: L.generalized_cross_entropy(y_pred, y_true, q=0.5, reduction="none"),
    "gce-q0.7": lambda y_true, y_pred: L.generalized_cross_entropy(y_pred, y_true, q=0.7, reduction="none"),
    "gce-q0.1": lambda y_true, y_pred: L.generalized_cross_entropy(y_pred, y_true, q=0.1, reduction="none"),
    "poly1-onehot-eps2": lambda logits, labels: L.poly1(logits, labels, epsilon=2.0, reduction="none"),
    "poly1-onehot-eps1": lambda logits, labels: L.poly1(logits, labels, epsilon=1.0, reduction="none"),
    "poly1-onehot-eps-0.5": lambda logits, labels: L.poly1(logits, labels, epsilon=-0.5, reduction="none"),
    "poly1-smooth-eps2": lambda logits, labels: L.poly1(logits, labels, reduction="none"),
    "sparsemax_loss": lambda scores, labels: L.sparsemax_loss(scores, labels, reduction="none"),
    "binary_sparsemax_loss": lambda logits, labels: L.binary_sparsemax_loss(logits, labels, reduction="none"),
    # optax's Fenchel-Young loss has no Omega(y): subtract it from nploss's
    "fenchel_young-shannon": lambda scores, targets: (
        L.fenchel_young(scores, targets, "shannon", reduction="none") - _omega(targets, "shannon")
    ),
    "fenchel_young-gini": lambda scores, targets: (
        L.fenchel_young(scores, targets, "gini", reduction="none") - _omega(targets, "gini")
    ),
    "ranking_softmax-graded": lambda logits, labels: L.ranking_softmax(logits, labels, reduction="none"),
    # optax's weights multiply the labels
    "ranking_softmax-weighted": lambda logits, labels, weights: L.ranking_softmax(
        logits, labels * weights, reduction="none"
    ),
    "multiclass_perceptron": lambda scores, labels: L.multiclass_perceptron(scores, labels, reduction="none"),
}
TOLERANCE = 1e-6  # relative, the bar; the worst errors are reported by test_worst_errors
CASES = sorted(c for c in REFERENCES if not c.startswith("sparsemax-"))


def _nploss_for(case):
    matches = [k for k in NPLOSS if case == k or case.startswith(k + "-")]
    assert len(matches) == 1, (case, matches)
    return NPLOSS[matches[0]]


def _evaluate(case, composite):
    ref = REFERENCES[case]
    names = [k for k in ref if k not in ("value", "cotangent") and not k.startswith("grad_")]
    diff = [k[len("grad_") :] for k in ref if k.startswith("grad_")]
    inputs = {n: Tensor(ref[n].astype(np.float64), requires_grad=True) if n in diff else ref[n] for n in names}
    if composite:
        with L.composite():
            out = _nploss_for(case)(**inputs)
    else:
        out = _nploss_for(case)(**inputs)
    grads = grad(out, [inputs[n] for n in diff], grad_outputs=ref["cotangent"])
    return ref, out.numpy(), {n: g.numpy() for n, g in zip(diff, grads)}


def _relative(a, b):
    """Worst elementwise relative error; entries near 0 are measured against 1e-12 of the largest."""
    scale = np.maximum(np.abs(b), 1e-12 * np.max(np.abs(b)) + 1e-300)
    return float(np.max(np.abs(a - b) / scale))


@pytest.mark.parametrize("composite", [False, True], ids=["fused", "composite"])
@pytest.mark.parametrize("case", CASES)
def test_matches_library_values_and_gradients(case, composite):
    ref, value, grads = _evaluate(case, composite)
    np.testing.assert_allclose(value, ref["value"], rtol=TOLERANCE, atol=1e-12)
    for name, g in grads.items():
        np.testing.assert_allclose(g, ref[f"grad_{name}"], rtol=TOLERANCE, atol=1e-12, err_msg=name)


def test_worst_errors(capsys):
    """The worst relative errors per loss against its library (printed with ``-s``)."""
    worst: dict[str, float] = {}
    for case in CASES:
        ref, value, grads = _evaluate(case, composite=False)
        errors = [_relative(value, ref["value"])] + [_relative(g, ref[f"grad_{n}"]) for n, g in grads.items()]
        key = case.split("-")[0]
        worst[key] = max(worst.get(key, 0.0), *errors)
    with capsys.disabled():
        print("\nworst relative error (value and gradients):", {k: f"{v:.1e}" for k, v in sorted(worst.items())})
    assert max(worst.values()) < TOLERANCE


# ------------------------------------------------------------------------------------ sparsemax, the mapping


def test_sparsemax_matches_optax_projection_and_jax_jacobian():
    ref = REFERENCES["sparsemax-rows"]
    z, jac = ref["z"], ref["jacobian"]
    np.testing.assert_allclose(L.sparsemax(z), ref["value"], rtol=1e-12, atol=1e-15)
    for j in range(z.shape[1]):
        e = np.zeros_like(z)
        e[:, j] = 1.0
        np.testing.assert_allclose(L.sparsemax_jvp(z, e), jac[:, :, j], atol=1e-14)
    # on a Tensor: one node whose backward is the (symmetric) Jacobian
    t = Tensor(z, requires_grad=True)
    ct = np.random.default_rng(0).standard_normal(z.shape)
    (g,) = grad(L.sparsemax(t), [t], grad_outputs=ct)
    np.testing.assert_allclose(g.numpy(), np.einsum("nij,ni->nj", jac, ct), atol=1e-14)


def test_sparsemax_along_another_axis_and_a_tensor_tangent():
    z = np.random.default_rng(1).standard_normal((4, 3, 2))
    np.testing.assert_allclose(
        L.sparsemax(z, axis=1), np.swapaxes(L.sparsemax(np.swapaxes(z, 1, -1)), 1, -1), atol=1e-15
    )
    assert np.allclose(L.sparsemax(z, axis=1).sum(axis=1), 1.0)
    v = Tensor(np.ones_like(z), requires_grad=True)
    out = L.sparsemax_jvp(z, v, axis=1)
    np.testing.assert_allclose(out.numpy(), 0.0, atol=1e-15)  # J 1 = 0: the simplex's sums are fixed


def test_sparsemax_at_the_kink_takes_the_strict_support():
    # z = (1, 0): tau = 0 exactly, so z_2 sits on the threshold and is outside the support
    z = np.array([1.0, 0.0])
    np.testing.assert_array_equal(L.sparsemax(z), [1.0, 0.0])
    np.testing.assert_array_equal(L.sparsemax_jvp(z, np.array([1.0, 5.0])), [0.0, 0.0])
    spec = L.REGISTRY["sparsemax_loss"]
    np.testing.assert_allclose(spec.kinks(z[None], np.array([0])), [[1.0, 0.0]])


def test_sparsemax_second_order_is_its_jacobian():
    # the Hessian of the sparsemax loss is the sparsemax Jacobian: d/dz <v, sparsemax(z) - e_y>
    ref = REFERENCES["sparsemax-rows"]
    z, jac = ref["z"], ref["jacobian"]
    v = np.random.default_rng(2).standard_normal(z.shape)
    t = Tensor(z, requires_grad=True)
    (g,) = grad(L.sparsemax_loss(t, np.zeros(len(z), dtype=np.int64), reduction="sum"), [t], create_graph=True)
    (h,) = grad(g, [t], grad_outputs=v)
    np.testing.assert_allclose(h.numpy(), np.einsum("nij,nj->ni", jac, v), atol=1e-13)


# ------------------------------------------------------------------------------------ Fenchel-Young


@pytest.mark.parametrize("regularizer", ["shannon", "gini"])
def test_fenchel_young_gradient_is_prediction_minus_target(regularizer):
    rng = np.random.default_rng(3)
    theta, y = 2.0 * rng.standard_normal((6, 5)), rng.dirichlet(np.ones(5), 6)
    t = Tensor(theta, requires_grad=True)
    (g,) = grad(L.fenchel_young(t, y, regularizer, reduction="sum"), [t])
    y_hat = L.sparsemax(theta) if regularizer == "gini" else np.exp(theta) / np.exp(theta).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(g.numpy(), y_hat - y, atol=1e-14)
    # zero, with zero gradient, at y = y_hat(theta); non-negative elsewhere
    np.testing.assert_allclose(L.fenchel_young(theta, y_hat, regularizer, reduction="none"), 0.0, atol=1e-12)
    assert np.all(L.fenchel_young(theta, y, regularizer, reduction="none") >= 0.0)


def test_fenchel_young_special_cases():
    rng = np.random.default_rng(4)
    theta, labels = 2.0 * rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    hot = np.eye(4)[labels]
    np.testing.assert_allclose(
        L.fenchel_young(theta, hot, "shannon", reduction="none"),
        L.cross_entropy(theta, labels, reduction="none"),
        rtol=1e-13,
    )
    np.testing.assert_allclose(
        L.fenchel_young(theta, hot, "gini", reduction="none"),
        L.sparsemax_loss(theta, labels, reduction="none"),
        rtol=1e-13,
    )
    # Shannon: KL(y || softmax(theta))
    y = rng.dirichlet(np.ones(4), 6)
    log_q = theta - np.log(np.exp(theta).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(
        L.fenchel_young(theta, y, reduction="none"), L.kl_div(log_q, y, reduction="none").sum(axis=1), rtol=1e-12
    )


def test_binary_sparsemax_is_two_class_sparsemax_and_a_quarter_of_modified_huber():
    z = np.linspace(-3.0, 3.0, 25)
    for y in (0, 1):
        target = np.full(z.shape, float(y))
        two_class = L.sparsemax_loss(np.stack([np.zeros_like(z), z], axis=1), np.full(z.shape, y), reduction="none")
        np.testing.assert_allclose(L.binary_sparsemax_loss(z, target, reduction="none"), two_class, atol=1e-14)
        m = (2 * y - 1) * z
        huber = np.where(m >= -1.0, np.maximum(0.0, 1.0 - m) ** 2, -4.0 * m)
        np.testing.assert_allclose(L.binary_sparsemax_loss(z, target, reduction="none"), huber / 4.0, atol=1e-14)


# ------------------------------------------------------------------------------------ closed forms and properties


def test_generalized_kl_is_kl_for_distributions_and_zero_at_equality():
    rng = np.random.default_rng(5)
    p, q = rng.dirichlet(np.ones(4), 5), rng.dirichlet(np.ones(4), 5)
    np.testing.assert_allclose(
        L.generalized_kl(np.log(q), p), L.kl_div(np.log(q), p, reduction="batchmean"), rtol=1e-12
    )
    m = rng.uniform(0.1, 3.0, (5, 4))
    np.testing.assert_allclose(L.generalized_kl(np.log(m), m, reduction="none"), 0.0, atol=1e-14)


def test_js_div_symmetric_bounded_by_log2():
    rng = np.random.default_rng(6)
    p, q = rng.dirichlet(np.ones(5), 8), rng.dirichlet(np.ones(5), 8)
    np.testing.assert_allclose(L.js_div(p, q, reduction="none"), L.js_div(q, p, reduction="none"), rtol=1e-14)
    disjoint = L.js_div(np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 0.5, 0.5]]))
    assert abs(float(disjoint) - math.log(2.0)) < 1e-15
    assert np.all(L.js_div(p, q, reduction="none") <= math.log(2.0))


def test_poly1_with_epsilon_zero_is_soft_target_cross_entropy():
    rng = np.random.default_rng(7)
    z, y = rng.standard_normal((5, 3)), rng.dirichlet(np.ones(3), 5)
    np.testing.assert_allclose(
        L.poly1(z, y, epsilon=0.0, reduction="none"), L.soft_target_cross_entropy(z, y, reduction="none"), rtol=1e-13
    )


def test_gce_limits():
    rng = np.random.default_rng(8)
    p, y = rng.dirichlet(np.ones(3), 6), rng.integers(0, 3, 6)
    p_y = p[np.arange(6), y]
    # q -> 0: cross entropy -log p_y; q = 1 (excluded) would be 1 - p_y
    np.testing.assert_allclose(L.generalized_cross_entropy(p, y, q=1e-8, reduction="none"), -np.log(p_y), rtol=1e-6)
    np.testing.assert_allclose(L.generalized_cross_entropy(p, y, q=1 - 1e-9, reduction="none"), 1.0 - p_y, rtol=1e-7)


def test_ranking_softmax_normalised_labels_are_soft_target_cross_entropy():
    rng = np.random.default_rng(9)
    s, y = rng.standard_normal((4, 6)), rng.dirichlet(np.ones(6), 4)
    np.testing.assert_allclose(L.ranking_softmax(s, y), L.soft_target_cross_entropy(s, y), rtol=1e-13)
    # an all-zero list contributes 0 and a zero gradient
    t = Tensor(s, requires_grad=True)
    (g,) = grad(L.ranking_softmax(t, np.zeros((4, 6)), reduction="sum"), [t])
    assert float(L.ranking_softmax(s, np.zeros((4, 6)))) == 0.0 and not np.any(g.numpy())


def test_multiclass_perceptron_ties_share_the_cotangent():
    t = Tensor(np.array([[0.0, 2.0, 2.0, -1.0], [1.0, 1.0, 0.0, 0.0]]), requires_grad=True)
    (g,) = grad(L.multiclass_perceptron(t, np.array([0, 1]), reduction="sum"), [t])
    np.testing.assert_allclose(g.numpy(), [[-1.0, 0.5, 0.5, 0.0], [0.5, -0.5, 0.0, 0.0]])


# ------------------------------------------------------------------------------------ edges and bad input

NAMES = ["generalized_kl", "js_div", "generalized_cross_entropy", "poly1", "sparsemax_loss", "binary_sparsemax_loss",
         "fenchel_young", "ranking_softmax", "multiclass_perceptron"]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_edge_cases_finite_value_and_gradient(name):
    spec = L.REGISTRY[name]
    fn = getattr(L, name)
    for make in spec.edge_cases.values():
        inputs = make(np.random.default_rng(0))
        tensors = [
            Tensor(x.astype(np.float64), requires_grad=True) if i in spec.differentiable else x
            for i, x in enumerate(inputs)
        ]
        out = fn(*tensors)
        grads = grad(out, [tensors[i] for i in spec.differentiable])
        assert np.isfinite(out.numpy()) and all(np.all(np.isfinite(g.numpy())) for g in grads)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: L.poly1(np.zeros((2, 3)), np.eye(3)[:2], epsilon=-2.0), ValueError, "epsilon"),
        (lambda: L.poly1(np.zeros((2, 3)), np.eye(3)[:2], epsilon="1"), TypeError, "epsilon"),
        (
            lambda: L.generalized_cross_entropy(np.full((2, 2), 0.5), np.array([0, 1]), q=1.0),
            ValueError,
            "q must be in (0, 1)",
        ),
        (lambda: L.generalized_cross_entropy(np.full((2, 2), 0.5), np.array([0, 2])), ValueError, "target"),
        (lambda: L.fenchel_young(np.zeros((2, 3)), np.eye(3)[:2], "tsallis"), ValueError, "regularizer"),
        (lambda: L.fenchel_young(np.zeros((2, 3)), np.full((2, 3), 0.5)), ValueError, "target rows must sum to 1"),
        (
            lambda: L.binary_sparsemax_loss(np.zeros(3), np.array([0.0, 0.5, 1.0])),
            ValueError,
            "target must hold 0 or 1",
        ),
        (lambda: L.generalized_kl(np.zeros((2, 3)), -np.ones((2, 3))), ValueError, "target must be non-negative"),
        (lambda: L.js_div(np.full((2, 3), 1 / 3), np.full((2, 2), 0.5)), ValueError, "target must have the shape"),
        (lambda: L.ranking_softmax(np.zeros(3), np.zeros(3)), ValueError, "logits must be a 2-D array"),
        (lambda: L.multiclass_perceptron(np.zeros((2, 3)), np.array([0.0, 1.0])), TypeError, "target"),
        (lambda: L.sparsemax(np.zeros((2, 3)), axis=2), ValueError, "axis 2 is out of range"),
        (lambda: L.sparsemax(np.array([0.0, np.nan])), ValueError, "z contains NaN"),
        (lambda: L.sparsemax(np.array([1, 2])), TypeError, "floating"),
        (lambda: L.sparsemax_jvp(np.zeros((2, 3)), np.zeros((2, 2))), ValueError, "v must have the shape"),
    ],
)
def test_bad_input_is_refused_by_name(call, error, words):
    with pytest.raises(error, match=None) as info:
        call()
    assert words in str(info.value), str(info.value)
