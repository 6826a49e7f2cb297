"""The losses of issue 20 in margin/multilabel.py and classification/large_vocabulary.py:
PyTorch 2.13 references (tests/fixtures/torch/classification_more.npz), PyTorch's own sample
inputs (tests/fixtures/torch/samples_more.npz), edge cases, bad input, and the memory of the
fused linear cross entropy."""

from __future__ import annotations

import json
import pathlib
import tracemalloc

import numpy as np
import pytest

import nploss.losses as L
from nploss.autograd import Tensor, grad

from .torch_reference import ATOL, RTOL, assert_matches_torch, load

TORCH = load("classification_more")
REDUCTIONS = ("mean", "sum", "none")


def _call(fn, **fixed):
    return lambda **inputs: fn(**inputs, **fixed)


def _lce(**fixed):
    return lambda features, linear_weight, target, linear_bias=None, **rest: L.linear_cross_entropy(
        features, linear_weight, target, linear_bias, **rest, **fixed
    )


NPLOSS = {
    **{f"multilabel_margin-{r}": _call(L.multilabel_margin, reduction=r) for r in REDUCTIONS},
    "multilabel_margin-kinks": _call(L.multilabel_margin, reduction="none"),
    "multilabel_margin-unbatched": _call(L.multilabel_margin),
    **{f"multilabel_soft_margin-{r}": _call(L.multilabel_soft_margin, reduction=r) for r in REDUCTIONS},
    "multilabel_soft_margin-soft": _call(L.multilabel_soft_margin, reduction="none"),
    **{
        f"multilabel_soft_margin-w{w}-{r}": _call(L.multilabel_soft_margin, reduction=r)
        for w in ("class", "element")
        for r in ("mean", "none")
    },
    "multilabel_soft_margin-large": _call(L.multilabel_soft_margin, reduction="none"),
    "multilabel_soft_margin-unbatched": _call(L.multilabel_soft_margin),
    **{
        f"hinge_embedding-m{m}-{r}": _call(L.hinge_embedding, margin=m, reduction=r)
        for m in (1.0, 0.5, 2.0)
        for r in REDUCTIONS
    },
    "hinge_embedding-kinks": _call(L.hinge_embedding, reduction="none"),
    **{f"linear_cross_entropy-{r}": _lce(reduction=r, chunk_size=4) for r in REDUCTIONS},
    "linear_cross_entropy-nobias": _lce(),
    **{
        f"linear_cross_entropy-all-{r}": _lce(ignore_index=3, label_smoothing=0.2, reduction=r, chunk_size=3)
        for r in REDUCTIONS
    },
    "linear_cross_entropy-chunked": _lce(chunk_size=1),
    "linear_cross_entropy-large": _lce(reduction="none", chunk_size=5),
    "linear_cross_entropy-unbatched": _lce(),
}


def _with_constant_weight(case):
    """The class weights of the fixture as a plain array (nploss never differentiates them)."""
    case = {**case, "input": dict(case["input"])}
    weight = case["input"].pop("weight", None)
    return case, ({} if weight is None else {"weight": weight})


def test_every_torch_case_has_an_nploss_call():
    assert set(TORCH) == set(NPLOSS)


@pytest.mark.parametrize("mode", ["fused", "reference", "composite"])
@pytest.mark.parametrize("case_id", sorted(NPLOSS))
def test_matches_pytorch(case_id, mode):
    case, weight = _with_constant_weight(TORCH[case_id])
    fn = NPLOSS[case_id]
    if mode == "fused":
        assert_matches_torch(case, lambda **t: fn(**t, **weight))
        return
    with L.reference() if mode == "reference" else L.composite():
        assert_matches_torch(case, lambda **t: fn(**t, **weight))


# ------------------------------------------------------------------------------------ PyTorch's own samples

SAMPLES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "torch" / "samples_more.npz"


def _load_samples():
    samples: dict[str, dict] = {}
    with np.load(SAMPLES) as data:
        for key in data.files:
            if key in ("torch_version", "counts"):
                continue
            sample_id, kind, *name = key.split("/")
            entry = samples.setdefault(sample_id, {"input": {}, "grad": {}})
            if kind == "meta":
                entry["meta"] = json.loads(str(data[key]))
            elif name:
                entry[kind][name[0]] = data[key]
            else:
                entry[kind] = data[key]
    return samples


SAMPLE_CASES = _load_samples()


def _nploss_call(meta, t):
    """(nploss function call, the sample tensors nploss treats as constants) for one sample."""
    name, kw = meta["name"].split(".")[-1], meta["kwargs"]
    r = kw.get("reduction", "mean")
    if name in ("multilabel_margin_loss", "MultiLabelMarginLoss"):
        x, y = (t["input"], t["arg0"]) if "input" in t else (t["arg0"], t["arg1"])
        return lambda: L.multilabel_margin(x, y, reduction=r), ()
    if name in ("multilabel_soft_margin_loss", "MultiLabelSoftMarginLoss"):
        x, y = (t["input"], t["arg0"]) if "input" in t else (t["arg0"], t["arg1"])
        w = t.get("weight", t.get("ctor_weight"))
        return lambda: L.multilabel_soft_margin(x, y, weight=w, reduction=r), ("weight", "ctor_weight")
    if name in ("hinge_embedding_loss", "HingeEmbeddingLoss"):
        x, y = (t["input"], t["arg0"]) if "input" in t else (t["arg0"], t["arg1"])
        return lambda: L.hinge_embedding(x, y, margin=kw.get("margin", 1.0), reduction=r), ()
    # linear cross entropy: the op's (input, linear_weight, target), or the module's parameters
    if "input" in t:
        x, w, y, b, cw = t["input"], t["arg0"], t["arg1"], t.get("linear_bias"), t.get("weight")
    else:
        x, w, y, b, cw = (
            t["arg0"],
            t["param_linear.weight"],
            t["arg1"],
            t.get("param_linear.bias"),
            t.get("ctor_weight"),
        )
    ignore = kw.get("ignore_index")
    return (
        lambda: L.linear_cross_entropy(
            x,
            w,
            y,
            b,
            weight=cw,
            ignore_index=-100 if ignore is None else ignore,
            label_smoothing=kw.get("label_smoothing", 0.0),
            reduction=r,
        ),
        ("weight", "ctor_weight"),
    )


ARGUMENT_NAMES = (
    "scores",
    "logits",
    "target",
    "distance",
    "features",
    "linear_weight",
    "linear_bias",
    "weight",
    "margin",
)


def _run_sample(sample):
    """'accepted' after checking nploss against PyTorch, or the error of a refusal."""
    tensors = {
        n: Tensor(v, requires_grad=v.dtype.kind == "f") if v.dtype.kind == "f" else v
        for n, v in sample["input"].items()
    }
    call, constants = _nploss_call(sample["meta"], tensors)
    try:
        out = call()
    except (ValueError, TypeError) as error:
        return error
    np.testing.assert_allclose(out.numpy(), sample["value"], rtol=RTOL, atol=ATOL, err_msg="value")
    wrt = [n for n in sample["grad"] if n not in constants]
    if wrt:
        grads = grad(out, [tensors[n] for n in wrt], grad_outputs=sample["cotangent"], allow_unused=True)
        for n, g in zip(wrt, grads):
            got = np.zeros_like(sample["grad"][n]) if g is None else g.numpy()
            np.testing.assert_allclose(got, sample["grad"][n], rtol=RTOL, atol=ATOL, err_msg=f"gradient of {n}")
    return "accepted"


def _sample_loss(sample_id):
    return SAMPLE_CASES[sample_id]["meta"]["name"].split(".")[-1]


# per op or module: (samples nploss matches, samples it refuses by name). The refused: 0-d
# multilabel_margin input; soft-margin and hinge-embedding targets outside [0, 1] and {-1, +1};
# linear_cross_entropy with class-probability targets or K-dimensional linear weights.
EXPECTED = {
    "multilabel_margin_loss": (5, 1),
    "MultiLabelMarginLoss": (8, 0),
    "multilabel_soft_margin_loss": (0, 4),
    "MultiLabelSoftMarginLoss": (5, 0),
    "hinge_embedding_loss": (9, 1),
    "HingeEmbeddingLoss": (10, 0),
    "linear_cross_entropy": (104, 225),
    "LinearCrossEntropyLoss": (460, 397),
}


@pytest.mark.parametrize("sample_id", sorted(SAMPLE_CASES))
def test_pytorch_sample_inputs(sample_id):
    result = _run_sample(SAMPLE_CASES[sample_id])
    if result != "accepted":
        assert any(n in str(result) for n in ARGUMENT_NAMES), f"a refusal that names no argument: {result}"


def test_how_many_pytorch_samples_are_accepted():
    tally: dict[str, list[int]] = {}
    for sample_id, sample in SAMPLE_CASES.items():
        result = _run_sample(sample)
        tally.setdefault(_sample_loss(sample_id), [0, 0])[0 if result == "accepted" else 1] += 1
    assert {k: tuple(v) for k, v in tally.items()} == EXPECTED


# ------------------------------------------------------------------------------------ closed forms, edges


def test_multilabel_margin_by_hand():
    # targets {3, 0}; non-targets {1, 2}: hinges 1 - 0.8 + 0.2, 1 - 0.8 + 0.4, 1 - 0.1 + 0.2, 1 - 0.1 + 0.4
    value = L.multilabel_margin(np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([[3, 0, -1, 1]]))
    np.testing.assert_allclose(value, (0.4 + 0.6 + 1.1 + 1.3) / 4)


def test_multilabel_margin_with_every_class_a_target_is_zero():
    scores = Tensor(np.array([[0.3, -2.0, 5.0]]), requires_grad=True)
    loss = L.multilabel_margin(scores, np.array([[0, 1, 2]]))
    assert float(loss.numpy()) == 0.0
    np.testing.assert_array_equal(grad(loss, [scores])[0].numpy(), 0.0)


def test_multilabel_soft_margin_is_bce_with_logits_over_the_classes():
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((5, 4)), rng.uniform(0, 1, (5, 4))
    np.testing.assert_allclose(L.multilabel_soft_margin(z, y), L.binary_cross_entropy_with_logits(z, y), rtol=1e-13)


def test_hinge_embedding_0_d_and_at_the_margin():
    x = Tensor(np.array(1.0), requires_grad=True)
    loss = L.hinge_embedding(x, np.array(-1.0))
    assert float(loss.numpy()) == 0.0
    assert float(grad(loss, [x])[0].numpy()) == -1.0  # PyTorch's clamp_min passes the gradient at 0


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 11, 100])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_cross_entropy_chunks_equal_the_reference(chunk_size, dtype):
    rng = np.random.default_rng(chunk_size)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((9, 4), (11, 4), (11,)))
    y = rng.integers(0, 11, 9)
    y[2] = -100
    for params in ({}, {"weight": rng.uniform(0.5, 2, 11), "label_smoothing": 0.3}):
        tensors = [Tensor(a, requires_grad=True) for a in (x, w, b)]
        fused = L.linear_cross_entropy(tensors[0], tensors[1], y, tensors[2], chunk_size=chunk_size, **params)
        with L.reference():
            ref = L.linear_cross_entropy(tensors[0], tensors[1], y, tensors[2], **params)
        tol = 1e-12 if dtype == np.float64 else 2e-6
        np.testing.assert_allclose(fused.numpy(), ref.numpy(), rtol=tol)
        for gf, gr in zip(grad(fused, tensors), grad(ref, tensors)):
            np.testing.assert_allclose(gf.numpy(), gr.numpy(), rtol=tol, atol=tol * np.abs(gr.numpy()).max())


def test_linear_cross_entropy_never_holds_the_logits():
    """tracemalloc: the fused forward and backward stay well below one N x V array."""
    n, d, v = 256, 16, 4096
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((n, d), (v, d), (v,)))
    y = rng.integers(0, v, n)
    tensors = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    tracemalloc.start()
    loss = L.linear_cross_entropy(tensors[0], tensors[1], y, tensors[2], chunk_size=256)
    grad(loss, tensors)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    logits_bytes = n * v * 4
    assert peak < logits_bytes / 2, (peak, logits_bytes)


# ------------------------------------------------------------------------------------ bad input, by name


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: L.multilabel_margin(np.zeros((2, 3)), np.array([[0, 3, -1], [1, -1, 0]])), ValueError, "target"),
        (lambda: L.multilabel_margin(np.zeros((2, 3)), np.array([[0, -2, -1], [1, -1, 0]])), ValueError, "target"),
        (lambda: L.multilabel_margin(np.zeros((2, 3)), np.zeros((2, 3))), TypeError, "target"),
        (lambda: L.multilabel_margin(np.zeros((2, 3)), np.zeros((2, 2), dtype=int)), ValueError, "target"),
        (lambda: L.multilabel_margin(np.array(1.0), np.array(0)), ValueError, "scores"),
        (lambda: L.multilabel_soft_margin(np.zeros((2, 3)), np.full((2, 3), 1.5)), ValueError, "target"),
        (lambda: L.multilabel_soft_margin(np.zeros((2, 3)), np.zeros((2, 3)), weight=np.ones(2)), ValueError, "weight"),
        (lambda: L.multilabel_soft_margin(np.zeros((2, 3)), np.zeros((3, 2))), ValueError, "target"),
        (lambda: L.hinge_embedding(np.zeros(3), np.array([1.0, 0.0, -1.0])), ValueError, "target"),
        (lambda: L.hinge_embedding(np.zeros(3), np.ones(3), margin=-1.0), ValueError, "margin"),
        (lambda: L.hinge_embedding(np.zeros(3), np.ones(3), margin="1"), TypeError, "margin"),
        (lambda: L.hinge_embedding(np.array([np.nan]), np.ones(1)), ValueError, "distance"),
        (
            lambda: L.linear_cross_entropy(np.zeros((2, 3)), np.zeros((4, 2)), np.array([0, 1])),
            ValueError,
            "linear_weight",
        ),
        (lambda: L.linear_cross_entropy(np.zeros((2, 3)), np.zeros((4, 3)), np.array([0, 4])), ValueError, "target"),
        (
            lambda: L.linear_cross_entropy(np.zeros((2, 3)), np.zeros((4, 3)), np.array([0, 1]), np.zeros(3)),
            ValueError,
            "linear_bias",
        ),
        (lambda: L.linear_cross_entropy(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros((2, 4))), TypeError, "target"),
        (
            lambda: L.linear_cross_entropy(np.zeros((2, 3)), np.zeros((4, 3)), np.array([0, 1]), chunk_size=0),
            ValueError,
            "chunk_size",
        ),
        (
            lambda: L.linear_cross_entropy(np.zeros((2, 3)), np.zeros((4, 3)), np.array([0, 1]), weight=-np.ones(4)),
            ValueError,
            "weight",
        ),
        (
            lambda: L.linear_cross_entropy(np.zeros((2, 3)), np.zeros((4, 3)), np.array([0, 1]), label_smoothing=2.0),
            ValueError,
            "label_smoothing",
        ),
    ],
)
def test_bad_input_is_refused_by_name(call, error, words):
    with pytest.raises(error, match=words):
        call()
