"""Overlap losses of nploss.losses.overlap: focal Tversky, generalised Dice, MCC, Lovász hinge and
softmax, the erosion-based Hausdorff loss, against kornia 0.9, segmentation-models-pytorch 0.6 and
torch formulas (tests/fixtures/torch_overlap.py), optax 0.2.8 (tests/fixtures/make_overlap_references.py),
closed forms, the Lovász conventions (ties, present classes, per image), edge cases and bad input."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import nploss.autograd as ag
import nploss.losses as L
from nploss.autograd import Tensor
from nploss.losses import overlap as O

from .torch_reference import assert_matches_torch, load

TORCH = load("overlap")
REFERENCES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "references" / "overlap.npz"


def _merged(x):
    """``(N, 1, *)`` as one sample of one channel, ``(1, 1, N * P)``: smp's sums over the batch."""
    return ag.reshape(x, (1, 1, -1))


def _smp_focal_tversky(gamma):
    return lambda prediction, target: O.focal_tversky(_merged(prediction), _merged(target), 0.3, 0.7, gamma, 1.0)


def _smp_mcc(eps):
    return lambda prediction, target: O.mcc(_merged(prediction), _merged(target), eps)


def _smp_lovasz_hinge(per_image):
    return lambda logits, target: O.lovasz_hinge(logits[:, 0], ag.as_data(target)[:, 0], per_image=per_image)


def _smp_lovasz_softmax(per_image):
    return lambda logits, labels: O.lovasz_softmax(ag.softmax(logits, axis=1), ag.as_data(labels), per_image=per_image)


def _kornia_hausdorff(alpha, k, reduction):
    """kornia's target is (B, 1, H, W) and its 'none' is laid out (C, B, 1, H, W)."""

    def call(prediction, target):
        out = O.hausdorff_erosion(prediction, ag.as_data(target)[:, 0], alpha, k, reduction=reduction)
        return ag.expand_dims(ag.swapaxes(out, 0, 1), 2) if reduction == "none" else out

    return call


NPLOSS = {
    **{
        f"focal_tversky-g{g:g}-{r}": lambda prediction, target, g=g, r=r: O.focal_tversky(
            prediction, target, 0.3, 0.7, g, 1.0, reduction=r
        )
        for g in (0.75, 1.0, 2.0)
        for r in ("mean", "none")
    },
    "focal_tversky-onehot-sum": lambda prediction, target: O.focal_tversky(
        prediction, target, 0.6, 0.2, 0.5, 0.1, reduction="sum"
    ),
    **{f"smp-focal_tversky-g{g:g}": _smp_focal_tversky(g) for g in (0.75, 2.0)},
    **{
        f"generalized_dice-soft-{r}": lambda prediction, target, r=r: O.generalized_dice(
            prediction, target, reduction=r
        )
        for r in ("mean", "none")
    },
    "generalized_dice-onehot-empty-class": lambda prediction, target: O.generalized_dice(
        prediction, target, 0.5, reduction="none"
    ),
    **{
        f"mcc-soft-{r}": lambda prediction, target, r=r: O.mcc(prediction, target, reduction=r)
        for r in ("mean", "none")
    },
    "mcc-onehot-empty-class": lambda prediction, target: O.mcc(prediction, target, 1e-3, reduction="none"),
    **{f"smp-mcc-eps{e:g}": _smp_mcc(e) for e in (1e-5, 0.1)},
    "kornia-lovasz_hinge": lambda logits, target: O.lovasz_hinge(logits[:, 0], ag.as_data(target)),
    **{f"smp-lovasz_hinge-per_image{p}": _smp_lovasz_hinge(p) for p in (False, True)},
    "kornia-lovasz_softmax": lambda logits, labels: O.lovasz_softmax(
        ag.softmax(logits, axis=1), ag.as_data(labels), per_image=True, classes="all"
    ),
    **{f"smp-lovasz_softmax-per_image{p}": _smp_lovasz_softmax(p) for p in (False, True)},
    **{
        f"kornia-hausdorff_erosion-a{a:g}-k{k}-{r}": _kornia_hausdorff(a, k, r)
        for a, k, r in ((2.0, 10, "mean"), (1.0, 3, "sum"), (2.0, 5, "none"), (0.5, 1, "mean"))
    },
}


FLOAT32_KERNEL = "kornia_float32_kernel-hausdorff_erosion"


def test_every_reference_case_has_an_nploss_call():
    assert set(TORCH) - {FLOAT32_KERNEL} == set(NPLOSS)


def test_hausdorff_erosion_matches_kornia_with_its_float32_kernel_to_its_precision():
    # kornia's filter weight is float32's 0.2 (1.5e-8 relative off): values agree to ~5e-8
    case = TORCH[FLOAT32_KERNEL]
    x = Tensor(case["input"]["prediction"], requires_grad=True)
    out = O.hausdorff_erosion(x, case["input"]["target"][:, 0])
    np.testing.assert_allclose(ag.as_data(out), case["value"], rtol=1e-7)
    (gradient,) = ag.grad(out, [x], grad_outputs=case["cotangent"])
    reference = case["grad"]["prediction"]
    assert np.max(np.abs(gradient.numpy() - reference)) < 1e-6 * np.max(np.abs(reference))


@pytest.mark.parametrize("case_id", sorted(NPLOSS))
@pytest.mark.parametrize("mode", ["fused", "composite"])
def test_matches_torch_kornia_and_smp(case_id, mode):
    if mode == "composite":
        with L.composite():
            assert_matches_torch(TORCH[case_id], NPLOSS[case_id])
    else:
        assert_matches_torch(TORCH[case_id], NPLOSS[case_id])


def _optax_cases():
    cases: dict[str, dict] = {}
    with np.load(REFERENCES) as data:
        for key in data.files:
            if key == "optax_version":
                continue
            case, kind, *name = key.split("/")
            entry = cases.setdefault(case, {"input": {}, "param": {}, "grad": {}})
            if name:
                entry[kind][name[0]] = data[key]
            else:
                entry[kind] = data[key]
    return cases


OPTAX = _optax_cases()


def _optax_generalized_dice(logits, targets, smooth):
    """optax's multiclass_generalized_dice_loss in nploss: a weighted mean of per-class Dice
    losses (tversky at 1/2, 1/2), the weights from the batch's class volumes (see the docstring)."""
    frequencies = targets.sum(axis=(0, 1, 2))
    v = 1.0 / (frequencies**2 + 1e-7)
    v = v / v.sum() * len(v)
    probs = ag.softmax(ag.swapaxes(ag.swapaxes(logits, 1, 3), 2, 3), axis=1)  # (N, C, H, W)
    per_class = L.tversky(probs, np.moveaxis(targets, -1, 1), 0.5, 0.5, smooth=smooth, reduction="none")
    return ag.mean(per_class * v)


@pytest.mark.parametrize("case", sorted(OPTAX))
def test_optax_generalized_dice_is_the_documented_composition(case):
    c = OPTAX[case]
    logits = Tensor(c["input"]["predictions"], requires_grad=True)
    out = _optax_generalized_dice(logits, c["input"]["targets"], float(c["param"]["smooth"]))
    np.testing.assert_allclose(out.numpy(), c["value"], rtol=1e-6, atol=1e-10)
    (gradient,) = ag.grad(out, [logits])
    np.testing.assert_allclose(gradient.numpy(), c["grad"]["predictions"], rtol=1e-6, atol=1e-10)
    # and it is not Sudre's generalised Dice
    probs = np.moveaxis(ag.as_data(ag.softmax(Tensor(c["input"]["predictions"]), axis=-1)), -1, 1)
    assert abs(float(O.generalized_dice(probs, np.moveaxis(c["input"]["targets"], -1, 1))) - float(c["value"])) > 1e-3


# ------------------------------------------------------------------------------------ closed forms


P = np.array([[[[0.9, 0.2], [0.1, 0.6]]]])
G = np.array([[[[1.0, 0.0], [0.0, 1.0]]]])


def test_focal_tversky_at_gamma_one_is_tversky():
    rng = np.random.default_rng(0)
    p, g = rng.uniform(0, 1, (2, 3, 4, 5)), rng.uniform(0, 1, (2, 3, 4, 5))
    np.testing.assert_allclose(
        O.focal_tversky(p, g, 0.4, 0.6, 1.0, reduction="none"), L.tversky(p, g, 0.4, 0.6, reduction="none"), rtol=1e-14
    )


@pytest.mark.parametrize("mode", ["fused", "composite"])
def test_focal_tversky_gradient_is_zero_at_a_perfect_overlap(mode):
    x = Tensor(G.copy(), requires_grad=True)
    with L.composite() if mode == "composite" else L.reference():
        out = O.focal_tversky(x, G, gamma=0.5)
    (gradient,) = ag.grad(out, [x])
    assert float(ag.as_data(out)) == 0.0
    assert np.all(gradient.numpy() == 0.0)


def test_generalized_dice_weights_and_empty_class():
    p = np.array([[[[0.9, 0.2], [0.1, 0.6]], [[0.1, 0.8], [0.9, 0.4]]]])
    g = np.array([[[[1.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]]]])
    expected = 1 - (2 * (0.9 + 2.1 / 9) + 1e-5) / (2.8 + 5.2 / 9 + 1e-5)
    assert float(O.generalized_dice(p, g)) == pytest.approx(expected, rel=1e-12)
    # an empty class takes the largest finite weight of its sample (MONAI's rule)
    empty = np.concatenate([g, np.zeros_like(g[:, :1])], axis=1)
    pe = np.concatenate([p, np.full_like(p[:, :1], 0.3)], axis=1)
    assert float(O.generalized_dice(pe, empty, smooth=1e-9)) == pytest.approx(
        1 - 2 * (0.9 + 2.1 / 9) / (2.8 + 5.2 / 9 + 1.2), rel=1e-9
    )
    assert float(O.generalized_dice(np.zeros((1, 2, 2, 2)), np.zeros((1, 2, 2, 2)))) == 0.0


def test_mcc_of_a_perfect_and_an_inverted_prediction():
    assert float(O.mcc(G, G, eps=1e-12)) == pytest.approx(0.0, abs=1e-9)
    assert float(O.mcc(1 - G, G, eps=1e-12)) == pytest.approx(2.0, abs=1e-9)


def test_mcc_is_symmetric_in_its_arguments():
    rng = np.random.default_rng(1)
    p, g = rng.uniform(0, 1, (2, 2, 3, 3)), rng.uniform(0, 1, (2, 2, 3, 3))
    np.testing.assert_allclose(O.mcc(p, g, reduction="none"), O.mcc(g, p, reduction="none"), rtol=1e-14)


def test_lovasz_hinge_of_unit_logits_is_twice_the_jaccard_loss():
    rng = np.random.default_rng(2)
    t = (rng.uniform(0, 1, (3, 10)) > 0.5) * 1.0
    predicted = (rng.uniform(0, 1, (3, 10)) > 0.5) * 1.0
    z = 2 * predicted - 1
    inter, union = (t * predicted).sum(1), np.maximum(t, predicted).sum(1)
    np.testing.assert_allclose(O.lovasz_hinge(z, t, reduction="none"), 2 * (1 - inter / union), rtol=1e-12)
    # logits of the right sign and magnitude at least 1: no error at all
    assert float(O.lovasz_hinge(3 * (2 * t - 1), t)) == 0.0


def test_lovasz_per_batch_is_the_batch_as_one_image():
    rng = np.random.default_rng(3)
    z, t = rng.standard_normal((3, 4, 5)), (rng.uniform(0, 1, (3, 4, 5)) > 0.5) * 1.0
    assert O.lovasz_hinge(z, t, per_image=False, reduction="none").shape == (1,)
    assert float(O.lovasz_hinge(z, t, per_image=False)) == pytest.approx(
        float(O.lovasz_hinge(z.reshape(1, -1), t.reshape(1, -1))), rel=1e-14
    )
    p = rng.dirichlet(np.ones(3), (2, 4, 5)).transpose(0, 3, 1, 2)
    y = rng.integers(0, 3, (2, 4, 5))
    merged = p.transpose(1, 0, 2, 3).reshape(1, 3, 2 * 4, 5)
    np.testing.assert_allclose(
        O.lovasz_softmax(p, y, reduction="none"),
        O.lovasz_softmax(merged, y.reshape(1, 8, 5), per_image=True, reduction="none"),
        rtol=1e-14,
    )


def test_lovasz_softmax_present_classes():
    p = np.array([[[[0.8, 0.4, 0.3]], [[0.1, 0.5, 0.6]], [[0.1, 0.1, 0.1]]]])  # (1, 3, 1, 3)
    y = np.array([[[0, 0, 1]]])  # class 2 absent
    every = O.lovasz_softmax(p, y, classes="all", reduction="none")
    present = O.lovasz_softmax(p, y, reduction="none")
    np.testing.assert_array_equal(present, every * np.array([1.0, 1.0, 0.0]))
    assert float(O.lovasz_softmax(p, y)) == pytest.approx(every[0, :2].mean(), rel=1e-14)
    assert float(O.lovasz_softmax(p, y, classes="all")) == pytest.approx(every.mean(), rel=1e-14)
    # an absent class is the Lovász extension at errors p: its largest probability
    assert every[0, 2] == pytest.approx(0.1)


def test_lovasz_ties_use_a_stable_sort():
    # four tied errors of 1 (logits 0): the first foreground pixel in index order gets J_1 - J_0
    z = np.zeros((1, 4))
    t = np.array([[1.0, 0.0, 1.0, 0.0]])
    x = Tensor(z, requires_grad=True)
    (gradient,) = ag.grad(O.lovasz_hinge(x, t), [x])
    # sorted labels 1, 0, 1, 0: J = 1/2, 2/3, 1, 1
    np.testing.assert_allclose(gradient.numpy(), [[-0.5, 1 / 6, -1 / 3, 0.0]], rtol=1e-14)


@pytest.mark.parametrize("name", ["lovasz_hinge", "lovasz_softmax"])
def test_lovasz_gradient_is_the_composite_one_at_ties(name):
    if name == "lovasz_hinge":
        args = [np.array([[1.0, -1.0, 0.0, 0.0, 2.0, 2.0]]), np.array([[1.0, 0.0, 1.0, 0.0, 0.0, 1.0]])]
    else:
        args = [np.full((2, 3, 2, 2), 1 / 3), np.array([[[0, 1], [2, 0]], [[1, 1], [0, 0]]])]
    fn = getattr(O, name)
    grads = []
    for mode in ("reference", "composite"):
        x = Tensor(args[0], requires_grad=True)
        with getattr(L, mode)():
            (gradient,) = ag.grad(fn(x, args[1]), [x])
        grads.append(gradient.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-14, atol=1e-15)


def test_lovasz_kinks_report_ties_and_zero_errors():
    spec = L.REGISTRY["lovasz_hinge"]
    assert np.min(spec.kinks(np.array([[0.5, 0.5, 3.0]]), np.array([[1.0, 1.0, 0.0]]), per_image=True)) == 0.0
    assert np.min(spec.kinks(np.array([[1.0, 2.5]]), np.array([[1.0, 0.0]]), per_image=True)) == 0.0  # error 0
    assert np.min(spec.kinks(np.array([[0.2, 2.5]]), np.array([[1.0, 0.0]]), per_image=True)) == pytest.approx(0.8)


# ------------------------------------------------------------------------------------ bad input


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="gamma"):
        O.focal_tversky(P, G, gamma=0.0)
    with pytest.raises(TypeError, match="gamma"):
        O.focal_tversky(P, G, gamma="1")
    with pytest.raises(ValueError, match="smooth"):
        O.generalized_dice(P, G, smooth=0.0)
    with pytest.raises(ValueError, match="eps"):
        O.mcc(P, G, eps=0.0)
    with pytest.raises(TypeError, match="per_image"):
        O.lovasz_hinge(np.zeros((1, 3)), np.zeros((1, 3)), per_image="no")
    with pytest.raises(ValueError, match="classes"):
        O.lovasz_softmax(np.full((1, 2, 1, 2), 0.5), np.zeros((1, 1, 2), dtype=int), classes="some")


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="target"):
        O.lovasz_hinge(np.zeros((2, 3)), np.full((2, 3), 0.5))  # not 0/1
    with pytest.raises(ValueError, match="target"):
        O.lovasz_hinge(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="target"):
        O.lovasz_softmax(np.full((1, 2, 1, 2), 0.5), np.zeros((1, 2, 1), dtype=int))
    with pytest.raises(ValueError, match="target"):
        O.lovasz_softmax(np.full((1, 2, 1, 2), 0.5), np.full((1, 1, 2), 2))  # label >= C
    with pytest.raises(TypeError, match="target"):
        O.lovasz_softmax(np.full((1, 2, 1, 2), 0.5), np.full((1, 1, 2), 0.5))  # not integers
    with pytest.raises(ValueError, match="prediction"):
        O.lovasz_softmax(np.full((1, 2, 1, 2), 1.5), np.zeros((1, 1, 2), dtype=int))
    with pytest.raises(ValueError, match="target"):
        O.generalized_dice(P, G[..., :1])
    with pytest.raises(ValueError, match="prediction"):
        O.mcc(np.zeros((2, 3)), np.zeros((2, 3)))
