"""Multi-task, regularisation and imbalance: torch references, closed forms and optima,
uncertainty weighting and GradNorm trained on toy problems, properties and bad input."""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nploss.autograd as ag
import nploss.losses as L
from nploss import nn
from nploss.audit import audit_loss
from nploss.autograd import Tensor
from nploss.optim import SGD, Adam

from .torch_reference import RTOL, assert_matches_torch, load

TORCH = load("multitask")
REDUCTIONS = ("mean", "sum", "none")

NPLOSS = {
    **{f"weighted_sum-{r}": lambda losses, weights, r=r: L.weighted_sum(losses, weights, r) for r in REDUCTIONS},
    **{
        f"uncertainty_weighting-{r}": lambda losses, log_sigma, r=r: L.uncertainty_weighting(losses, log_sigma, r)
        for r in ("sum", "none")
    },
    **{f"gradnorm-{r}": lambda norms, targets, r=r: L.gradnorm(norms, targets, r) for r in ("sum", "none")},
    **{
        f"self_paced-lam{lam}-{r}": lambda losses, lam=lam, r=r: L.self_paced(losses, lam, reduction=r)
        for lam in (1.0, 0.3)
        for r in REDUCTIONS
    },
    **{f"consistency-{r}": lambda f_x, f_aug, r=r: L.consistency(f_x, f_aug, reduction=r) for r in REDUCTIONS},
    "consistency-3d-none": lambda f_x, f_aug: L.consistency(f_x, f_aug, reduction="none"),
    **{f"temporal-{r}": lambda sequence, r=r: L.temporal_consistency(sequence, r) for r in REDUCTIONS},
    "temporal-batch-none": lambda sequence: L.consistency(sequence, kind="temporal", reduction="none"),
    **{f"spatial-{r}": lambda feature_map, r=r: L.spatial_consistency(feature_map, r) for r in REDUCTIONS},
    "spatial-one-row-none": lambda feature_map: L.consistency(feature_map, kind="spatial", reduction="none"),
    **{f"l1_penalty-{r}": lambda weights, r=r: L.l1_penalty(weights, 0.3, r) for r in ("sum", "none")},
    **{f"l2_penalty-{r}": lambda weights, r=r: L.l2_penalty(weights, 0.3, r) for r in ("sum", "none", "mean")},
    **{f"elastic_net-{r}": lambda weights, r=r: L.elastic_net(weights, 0.2, 0.05, r) for r in ("sum", "none")},
}
GRADNORM_STEPS = ("gradnorm-step-loss", "gradnorm-step-norms")


def test_every_torch_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS) | set(GRADNORM_STEPS)


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch(case_id):
    assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_composite_matches_pytorch(case_id):
    with L.composite():
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


# ------------------------------------------------------------------------------------ weighted sum and uncertainty


@given(
    losses=hnp.arrays(np.float64, 4, elements=st.floats(-100, 100)),
    weights=hnp.arrays(np.float64, 4, elements=st.floats(0, 10)),
)
def test_weighted_sum_is_the_dot_product_and_accepts_a_list_of_tensors(losses, weights):
    assert float(L.weighted_sum(losses, weights)) == pytest.approx(float(losses @ weights), rel=1e-12, abs=1e-12)
    tensors = [Tensor(x, requires_grad=True) for x in losses]
    total = L.weighted_sum(tensors, weights)
    grads = ag.grad(total, tensors)
    np.testing.assert_allclose([g.numpy() for g in grads], weights, rtol=1e-15)


def test_uncertainty_weighting_closed_form_optimum():
    losses = np.array([0.3, 2.0, 7.5])
    optimum = 0.5 * np.log(losses)  # sigma^2 = L
    value = L.uncertainty_weighting(losses, optimum, reduction="none")
    np.testing.assert_allclose(value, 0.5 + 0.5 * np.log(losses), rtol=1e-14)
    log_sigma = Tensor(optimum, requires_grad=True)
    (g,) = ag.grad(L.uncertainty_weighting(losses, log_sigma), [log_sigma])
    np.testing.assert_allclose(g.numpy(), 0.0, atol=1e-14)
    for shift in (-0.1, 0.1):  # a minimum, not a stationary point of another kind
        assert float(L.uncertainty_weighting(losses, optimum + shift)) > float(L.uncertainty_weighting(losses, optimum))


def test_uncertainty_weighting_module_learns_sigma_squared_equal_to_the_task_losses():
    losses = np.array([0.05, 1.0, 40.0])  # fixed task losses, three orders of magnitude apart
    weighting = L.UncertaintyWeighting(3)
    opt = Adam(weighting.parameters(), lr=0.05)
    for _ in range(1200):
        opt.zero_grad()
        weighting([Tensor(x) for x in losses]).backward()
        opt.step()
    np.testing.assert_allclose(weighting.sigma**2, losses, rtol=1e-3)
    np.testing.assert_allclose(weighting.weights, 0.5 / losses, rtol=2e-3)


def test_uncertainty_weighting_module_bad_input():
    weighting = L.UncertaintyWeighting(2)
    with pytest.raises(ValueError, match=r"losses must have shape \(2,\)"):
        weighting(np.ones(3))
    with pytest.raises(ValueError, match="num_tasks must be an integer >= 1"):
        L.UncertaintyWeighting(0)


# ------------------------------------------------------------------------------------ GradNorm


def test_gradnorm_objective_is_the_l1_distance_with_constant_targets():
    norms = Tensor(np.array([1.0, 4.0, 2.0]), requires_grad=True)
    targets = Tensor(np.array([2.0, 2.0, 2.0]), requires_grad=True)
    loss = L.gradnorm(norms, targets)
    assert loss.item() == 3.0
    grads = ag.grad(loss, [norms, targets], allow_unused=True)
    np.testing.assert_array_equal(grads[0].numpy(), [-1.0, 1.0, 0.0])  # sign(0) = 0 on the kink
    assert grads[1] is None  # the targets are constants


def _gradnorm_network(case):
    x = case["input"]
    shared = nn.Linear(3, 4)
    shared.weight.data[...] = x["shared_weight"]
    shared.bias.data[...] = x["shared_bias"]
    h = ag.relu(shared(Tensor(x["x"])))
    losses = [L.mse(ag.matmul(h, x["head1"].T)[:, 0], x["y1"]), L.mse(ag.matmul(h, x["head2"].T)[:, 0], x["y2"])]
    gradnorm = L.GradNorm(2, alpha=1.5, initial_losses=x["initial_losses"])
    gradnorm.weights.data[...] = x["weights"]
    return gradnorm, losses, shared


@pytest.mark.parametrize("mode", ["fused", "composite"])
def test_gradnorm_step_matches_pytorch(mode):
    case = TORCH["gradnorm-step-loss"]
    gradnorm, losses, shared = _gradnorm_network(case)
    with L.composite() if mode == "composite" else contextlib.nullcontext():
        result = gradnorm(losses, shared=shared.weight)
    np.testing.assert_allclose(result.loss.numpy(), case["value"], rtol=RTOL)
    gradnorm.backward(result)
    np.testing.assert_allclose(case["cotangent"] * gradnorm.weights.grad.numpy(), case["grad"]["weights"], rtol=RTOL)
    norms_case = TORCH["gradnorm-step-norms"]
    np.testing.assert_allclose(result.norms.numpy(), norms_case["value"], rtol=RTOL)
    (g,) = ag.grad(result.norms, [gradnorm.weights], grad_outputs=norms_case["cotangent"])
    np.testing.assert_allclose(g.numpy(), norms_case["grad"]["weights"], rtol=RTOL)
    # the network is trained on sum_t w_t L_t with the weights held constant
    assert result.total.item() == pytest.approx(float(case["input"]["weights"] @ [x.item() for x in losses]), rel=1e-14)
    assert ag.grad(result.total, [gradnorm.weights], allow_unused=True) == [None]


def _train_two_tasks(use_gradnorm, steps=100):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4))
    y1 = x @ rng.standard_normal(4)
    y2 = 10.0 * x @ rng.standard_normal(4)  # same difficulty, ten times the scale
    nn.init.manual_seed(0)
    shared, head1, head2 = nn.Linear(4, 8), nn.Linear(8, 1), nn.Linear(8, 1)
    gradnorm = L.GradNorm(2, alpha=0.5)
    network = Adam([*shared.parameters(), *head1.parameters(), *head2.parameters()], lr=2e-3)
    task_weights = Adam(gradnorm.parameters(), lr=2e-2)
    gaps = []
    for _ in range(steps):
        h = ag.relu(shared(Tensor(x)))
        result = gradnorm([L.mse(head1(h)[:, 0], y1), L.mse(head2(h)[:, 0], y2)], shared=shared.weight)
        norms = result.norms.numpy()
        # distance of the norms' ratio to the targets' ratio, on a log scale
        gaps.append(abs(np.log(norms[0] / norms[1]) - np.log(result.targets[0] / result.targets[1])))
        network.zero_grad()
        task_weights.zero_grad()
        result.total.backward()
        if use_gradnorm:
            gradnorm.backward(result)
            task_weights.step()
            gradnorm.renormalize()
        network.step()
        assert gradnorm.weights.numpy().sum() == pytest.approx(2.0, rel=1e-12)
    return np.array(gaps), gradnorm.weights.numpy()


def test_gradnorm_moves_the_ratio_of_gradient_norms_to_its_target():
    gaps, weights = _train_two_tasks(use_gradnorm=True)
    fixed, _ = _train_two_tasks(use_gradnorm=False)
    assert gaps[0] > 2.0  # the large-scale task's gradient is about 16 times the other's
    assert gaps[60:].max() < 0.25 and gaps[75:].mean() < 0.1
    assert fixed.min() > 2.0  # without the weight updates the gap stays
    assert weights[0] > 5 * weights[1]  # the small-scale task got the larger weight


def test_gradnorm_bad_input_and_renormalize_floor():
    gradnorm = L.GradNorm(2)
    w = Tensor(np.ones(3), requires_grad=True)
    loss = ag.sum(w * w)
    with pytest.raises(ValueError, match="losses must hold 2 task losses"):
        gradnorm([loss], shared=w)
    with pytest.raises(ValueError, match="shared must be Tensors"):
        gradnorm([loss, loss], shared=Tensor(np.ones(3)))
    with pytest.raises(ValueError, match="initial_losses must be positive"):
        L.GradNorm(2, initial_losses=[1.0, 0.0])
    with pytest.raises(ValueError, match="alpha must be non-negative"):
        L.GradNorm(2, alpha=-1.0)
    gradnorm.weights.data[...] = [2.5, -0.5]
    gradnorm.renormalize()
    assert gradnorm.weights.numpy()[1] > 0 and gradnorm.weights.numpy().sum() == pytest.approx(2.0)


# ------------------------------------------------------------------------------------ self-paced


@given(losses=hnp.arrays(np.float64, 6, elements=st.floats(0, 10)), lam=st.floats(0, 5))
def test_self_paced_closed_form_gradient_and_monotonicity(losses, lam):
    expected = np.minimum(losses - lam, 0.0).sum()  # min over v in [0, 1]^N of sum v (l - lam)
    assert float(L.self_paced(losses, lam, reduction="sum")) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    t = Tensor(losses, requires_grad=True)
    (g,) = ag.grad(L.self_paced(t, lam, reduction="sum"), [t])
    np.testing.assert_array_equal(g.numpy(), (losses < lam).astype(float))  # the selected samples v
    # admitting harder samples (larger lambda) never raises the objective
    assert float(L.self_paced(losses, lam + 0.5, reduction="sum")) <= float(L.self_paced(losses, lam, reduction="sum"))


def test_self_paced_bad_input():
    with pytest.raises(ValueError, match="lam must be non-negative"):
        L.self_paced(np.ones(3), lam=-1.0)
    with pytest.raises(ValueError, match="losses must be non-negative"):
        L.self_paced(np.array([1.0, -0.5]))


# ------------------------------------------------------------------------------------ consistency


@given(x=hnp.arrays(np.float64, (3, 4), elements=st.floats(-10, 10)), c=st.floats(-5, 5))
def test_consistency_zero_at_agreement_symmetric_and_shift_invariant(x, c):
    y = x[::-1].copy()
    assert np.all(L.consistency(x, x, reduction="none") == 0)
    np.testing.assert_allclose(L.consistency(x, y, reduction="none"), L.consistency(y, x, reduction="none"))
    np.testing.assert_allclose(L.consistency(x + c, y + c), L.consistency(x, y), rtol=1e-9, atol=1e-9)
    assert float(L.temporal_consistency(np.ones((5, 2)) * c)) == 0.0
    assert float(L.spatial_consistency(np.ones((1, 2, 3, 3)) * c)) == 0.0
    shifted = L.temporal_consistency(x + c, "sum")
    np.testing.assert_allclose(shifted, L.temporal_consistency(x, "sum"), rtol=1e-9, atol=1e-9)


def test_temporal_and_spatial_consistency_hand_worked():
    sequence = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 3.0]])
    np.testing.assert_array_equal(L.temporal_consistency(sequence, "none"), [2.0, 4.0])
    t = Tensor(sequence, requires_grad=True)
    (g,) = ag.grad(L.temporal_consistency(t, "sum"), [t])
    # 2 (f_t - f_{t-1}) - 2 (f_{t+1} - f_t)
    np.testing.assert_array_equal(g.numpy(), [[-2.0, -2.0], [2.0, -2.0], [0.0, 4.0]])
    fmap = np.array([[[[0.0, 1.0], [0.0, 3.0]]]])  # pairs: (0,1) (0,3) horizontal, (0,0) (1,3) vertical
    np.testing.assert_array_equal(L.spatial_consistency(fmap, "none"), [[1.0, 9.0, 0.0, 4.0]])
    assert float(L.spatial_consistency(fmap)) == 3.5
    # a batch of sequences is the sequences one by one
    batch = np.random.default_rng(0).standard_normal((3, 4, 2))
    np.testing.assert_array_equal(L.temporal_consistency(batch, "none")[1], L.temporal_consistency(batch[1], "none"))


def test_consistency_dispatch_and_bad_input():
    x = np.random.default_rng(1).standard_normal((2, 3, 3, 4))
    assert float(L.consistency(x, kind="spatial")) == float(L.spatial_consistency(x))
    assert float(L.consistency(x[0, 0], kind="temporal")) == float(L.temporal_consistency(x[0, 0]))
    with pytest.raises(ValueError, match="kind must be one of"):
        L.consistency(x, x, kind="adversarial")
    with pytest.raises(ValueError, match="needs f_aug"):
        L.consistency(x)
    with pytest.raises(ValueError, match="takes one input"):
        L.consistency(x, x, kind="temporal")
    with pytest.raises(ValueError, match=r"f_aug must have the shape of f_x \(2, 3\), got \(2, 1\)"):
        L.consistency(np.zeros((2, 3)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="T >= 2 time steps"):
        L.temporal_consistency(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"feature_map must have shape \(N, C, H, W\)"):
        L.spatial_consistency(np.zeros((2, 3, 4)))


# ------------------------------------------------------------------------------------ penalties


def test_l2_penalty_with_half_the_weight_decay_is_sgd_weight_decay():
    rng = np.random.default_rng(0)
    w0, target, wd, lr = rng.standard_normal(5), rng.standard_normal(5), 0.1, 0.05
    decayed, penalised = Tensor(w0.copy(), requires_grad=True), Tensor(w0.copy(), requires_grad=True)
    opt_decay, opt_penalty = SGD([decayed], lr=lr, weight_decay=wd), SGD([penalised], lr=lr)
    for _ in range(5):
        opt_decay.zero_grad()
        opt_penalty.zero_grad()
        L.mse(decayed, target).backward()
        (L.mse(penalised, target) + L.l2_penalty(penalised, lam=wd / 2)).backward()
        opt_decay.step()
        opt_penalty.step()
    np.testing.assert_allclose(penalised.numpy(), decayed.numpy(), rtol=1e-13)


@given(w=hnp.arrays(np.float64, (2, 3), elements=st.floats(-100, 100)), l1=st.floats(0, 2), l2=st.floats(0, 2))
def test_elastic_net_is_l1_plus_l2_and_penalties_closed_form(w, l1, l2):
    both = L.l1_penalty(w, l1, "none") + L.l2_penalty(w, l2, "none")
    np.testing.assert_allclose(L.elastic_net(w, l1, l2, "none"), both, rtol=1e-12, atol=1e-12)
    assert float(L.l1_penalty(w, l1)) == pytest.approx(l1 * np.abs(w).sum(), rel=1e-12, abs=1e-12)
    assert float(L.l2_penalty(w, l2)) == pytest.approx(l2 * (w * w).sum(), rel=1e-12, abs=1e-12)  # no 1/2
    mean = float(L.l2_penalty(w, l2, "mean"))
    assert mean == pytest.approx(float(L.l2_penalty(w, l2)) / w.size, rel=1e-12, abs=1e-12)


def test_penalties_over_model_parameters():
    nn.init.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    params = list(model.parameters())
    total = L.l1_penalty(model.parameters(), lam=0.5)
    assert total.item() == pytest.approx(0.5 * sum(np.abs(p.numpy()).sum() for p in params), rel=1e-12)
    grads = ag.grad(total, params)
    for p, g in zip(params, grads):
        np.testing.assert_array_equal(g.numpy(), 0.5 * np.sign(p.numpy()))
    count = sum(p.size for p in params)
    squares = sum((p.numpy() ** 2).sum() for p in params)
    assert L.l2_penalty(params, 1.0, "mean").item() == pytest.approx(squares / count)
    with pytest.raises(ValueError, match="reduction must be 'sum' or 'mean' for a sequence"):
        L.l2_penalty(params, reduction="none")
    with pytest.raises(ValueError, match="empty sequence"):
        L.l1_penalty([])


def test_l1_subgradient_is_zero_at_zero_and_bad_lambdas():
    w = Tensor(np.array([0.0, 2.0, -3.0]), requires_grad=True)
    (g,) = ag.grad(L.l1_penalty(w, 1.0), [w])
    np.testing.assert_array_equal(g.numpy(), [0.0, 1.0, -1.0])
    with pytest.raises(ValueError, match="lam must be non-negative"):
        L.l2_penalty(np.ones(2), lam=-0.1)
    with pytest.raises(ValueError, match="l1 must be non-negative"):
        L.elastic_net(np.ones(2), l1=-1.0)
    with pytest.raises(TypeError, match="l2 must be a real number"):
        L.elastic_net(np.ones(2), l2="0.1")


# ------------------------------------------------------------------------------------ class weights


def test_class_weights_hand_worked():
    counts = np.array([10, 1, 100])
    np.testing.assert_allclose(L.class_weights(counts=counts, normalize=None), [0.1, 1.0, 0.01], rtol=1e-15)
    np.testing.assert_allclose(L.class_weights(counts=counts), [10 / 37, 100 / 37, 1 / 37], rtol=1e-14)
    # scikit-learn's 'balanced': N / (C n_c) = 111 / (3 n_c)
    np.testing.assert_allclose(L.class_weights(counts=counts, normalize="samples"), [3.7, 37.0, 0.37], rtol=1e-14)
    np.testing.assert_allclose(
        L.class_weights(counts=counts, scheme="inverse_sqrt"),
        [0.6698663314014099, 2.1183033350896268, 0.21183033350896274],
        rtol=1e-14,
    )
    effective = L.class_weights(counts=counts, scheme="effective", beta=0.9, normalize=None)
    np.testing.assert_allclose(effective, [0.153533993278762950, 1.0, 0.100002656210441424], rtol=1e-14)
    np.testing.assert_allclose(
        L.class_weights(counts=counts, scheme="effective", beta=0.9),
        [0.367441973095861698, 2.39322879089530474, 0.239329236008833566],
        rtol=1e-14,
    )
    # from labels: counts (2, 1, 3), beta 0.999
    labels = np.array([0, 2, 0, 1, 2, 2])
    np.testing.assert_allclose(
        L.class_weights(labels, scheme="effective"),
        [0.818330580762250478, 1.63584283094373871, 0.545826588294010815],
        rtol=1e-12,
    )


@given(counts=hnp.arrays(np.int64, 4, elements=st.integers(1, 10_000)), beta=st.floats(0, 0.9999))
def test_class_weights_properties(counts, beta):
    for scheme in ("inverse", "inverse_sqrt", "effective"):
        w = L.class_weights(counts=counts, scheme=scheme, beta=beta)
        assert w.sum() == pytest.approx(4.0, rel=1e-12)
        assert np.all(np.diff(w[np.argsort(counts)]) <= 1e-12 * w.max())  # rarer class, no smaller weight
        s = L.class_weights(counts=counts, scheme=scheme, beta=beta, normalize="samples")
        assert (s * counts).sum() == pytest.approx(counts.sum(), rel=1e-12)
    np.testing.assert_allclose(L.class_weights(counts=counts, scheme="effective", beta=0.0), 1.0)


def test_class_weights_effective_number_tends_to_inverse_frequency():
    counts = np.array([3, 50, 700])
    near_one = L.class_weights(counts=counts, scheme="effective", beta=1 - 1e-9)
    np.testing.assert_allclose(near_one, L.class_weights(counts=counts), rtol=1e-5)


def test_class_weights_bad_input():
    with pytest.raises(ValueError, match="exactly one of labels"):
        L.class_weights()
    with pytest.raises(ValueError, match="exactly one of labels"):
        L.class_weights(np.array([0, 1]), counts=np.array([1, 1]))
    with pytest.raises(ValueError, match=r"classes \[1\] have no samples"):
        L.class_weights(np.array([0, 2, 2]))
    with pytest.raises(ValueError, match=r"classes \[3\] have no samples"):
        L.class_weights(np.array([0, 1, 2]), num_classes=4)
    with pytest.raises(ValueError, match=r"labels must be class labels in \[0, 2\)"):
        L.class_weights(np.array([0, 1, 2]), num_classes=2)
    with pytest.raises(TypeError, match="labels must hold integer class labels"):
        L.class_weights(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="counts must be finite and non-negative"):
        L.class_weights(counts=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="counts must have num_classes=3 entries, got 2"):
        L.class_weights(counts=np.array([1, 2]), num_classes=3)
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\)"):
        L.class_weights(counts=np.array([1, 2]), scheme="effective", beta=1.0)
    with pytest.raises(ValueError, match="scheme must be one of"):
        L.class_weights(counts=np.array([1, 2]), scheme="balanced")
    with pytest.raises(ValueError, match="normalize must be"):
        L.class_weights(counts=np.array([1, 2]), normalize="sum")


def test_class_weights_feed_a_weighted_mean():
    labels = np.array([0, 0, 0, 1])
    w = L.class_weights(labels, normalize="samples")  # average sample weight 1
    assert w[labels].mean() == pytest.approx(1.0)
    np.testing.assert_allclose(w, [4 / 6, 2.0])


# ------------------------------------------------------------------------------------ shared


@pytest.mark.parametrize("name", ["weighted_sum", "uncertainty_weighting", "gradnorm"])
def test_task_vectors_are_checked(name):
    fn = getattr(L, name)
    with pytest.raises(ValueError, match=r"must have the shape of .* \(3,\), got \(2,\)"):
        fn(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="must be a vector"):
        fn(np.ones((3, 1)), np.ones((3, 1)))


def test_negative_task_weights_are_refused_and_arrays_in_arrays_out():
    with pytest.raises(ValueError, match="weights must be non-negative"):
        L.weighted_sum(np.ones(2), np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="losses must be non-negative"):
        L.uncertainty_weighting(np.array([-1.0, 1.0]), np.zeros(2))
    assert isinstance(L.weighted_sum(np.ones(2), np.ones(2)), np.ndarray)
    assert isinstance(L.consistency(Tensor(np.ones((2, 2))), np.zeros((2, 2))), Tensor)


def test_non_default_parameters_pass_the_audit():
    # the registry test audits the defaults; these settings change the formula's branches
    for name, params in (("self_paced", {"lam": 0.4}), ("elastic_net", {"l1": 0.7, "l2": 0.0})):
        spec = dataclasses.replace(L.REGISTRY[name], params=params)
        row = audit_loss(spec, seed=7)
        assert row.passed, row.failure()
