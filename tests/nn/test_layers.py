"""Modules and layers: outputs against NumPy references, gradients against finite differences,
module bookkeeping (registration, modes, checkpoints) and initialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nploss import nn
from nploss.autograd import Tensor
from nploss.gradcheck import check_grad, check_gradgrad
from nploss.nn import init


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def module_fn(module: nn.Module):
    """The module as a function of (x, *parameters), for gradient checking."""
    names = [name for name, _ in module.named_parameters()]

    def f(x, *params):
        return nn.functional_call(module, dict(zip(names, params)), x)

    return f, [p.numpy().copy() for p in module.parameters()], names


def assert_module_gradients(module: nn.Module, x: np.ndarray, second_order: bool = False) -> None:
    f, params, names = module_fn(module)
    result = check_grad(f, [x, *params], names=["x", *names])
    assert result.passed, str(result)
    if second_order:
        result = check_gradgrad(f, [x, *params], names=["x", *names])
        assert result.passed, str(result)


# ------------------------------------------------------------------------------ NumPy references


def naive_conv2d(x, w, b, stride, padding):
    """Cross-correlation by explicit loops over every output element."""
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph : ph + h, pw : pw + wd] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, f, oh, ow))
    for i in range(n):
        for o in range(f):
            for r in range(oh):
                for s in range(ow):
                    window = xp[i, :, r * sh : r * sh + kh, s * sw : s * sw + kw]
                    out[i, o, r, s] = np.sum(window * w[o]) + (0.0 if b is None else b[o])
    return out


def batchnorm_reference(x, gamma, beta, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes)
    var = x.var(axis=axes)  # biased
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * gamma.reshape(shape) + beta.reshape(shape)
    n = x.size // x.shape[1]
    return y, mean, var * n / (n - 1)


def softmax_reference(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ------------------------------------------------------------------------------ Linear and Conv2d


def test_linear_matches_affine_map_on_batched_input():
    layer = nn.Linear(4, 3, rng=rng(0))
    x = rng(1).standard_normal((2, 5, 4))
    y = layer(Tensor(x))
    assert y.shape == (2, 5, 3)
    np.testing.assert_allclose(y.data, x @ layer.weight.data.T + layer.bias.data, rtol=1e-13)
    no_bias = nn.Linear(4, 3, bias=False, rng=rng(0))
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    np.testing.assert_allclose(no_bias(x).data, x @ no_bias.weight.data.T, rtol=1e-13)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "bias"),
    [(3, 1, 0, True), (3, 2, 1, True), ((2, 3), (1, 2), (1, 0), False), (1, 1, 0, True)],
)
def test_conv2d_matches_naive_loops(kernel, stride, padding, bias):
    layer = nn.Conv2d(3, 4, kernel, stride=stride, padding=padding, bias=bias, rng=rng(2))
    x = rng(3).standard_normal((2, 3, 7, 6))
    expected = naive_conv2d(
        x, layer.weight.data, None if layer.bias is None else layer.bias.data, layer.stride, layer.padding
    )
    y = layer(x)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)


def test_default_init_is_pytorch_uniform_with_bound_one_over_sqrt_fan_in():
    linear = nn.Linear(400, 300, rng=rng(4))
    conv = nn.Conv2d(16, 32, 3, rng=rng(5))
    for layer, fan_in in [(linear, 400), (conv, 16 * 9)]:
        bound = 1.0 / math.sqrt(fan_in)
        for p in (layer.weight, layer.bias):
            assert np.all(np.abs(p.data) <= bound)
        # U(-b, b) has variance b^2 / 3; 120k (resp. 4.6k) samples pin it within a few percent.
        assert layer.weight.data.var() == pytest.approx(bound**2 / 3, rel=0.05)
        assert np.abs(layer.weight.data).max() > 0.95 * bound
        assert np.abs(layer.bias.data).max() > 0.5 * bound


def test_init_is_reproducible_with_rng_and_manual_seed():
    a, b = nn.Linear(5, 3, rng=rng(7)), nn.Linear(5, 3, rng=rng(7))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    init.manual_seed(11)
    c = nn.Conv2d(2, 3, 3)
    init.manual_seed(11)
    d = nn.Conv2d(2, 3, 3)
    np.testing.assert_array_equal(c.weight.data, d.weight.data)
    np.testing.assert_array_equal(c.bias.data, d.bias.data)
    assert not np.array_equal(a.weight.data, nn.Linear(5, 3, rng=rng(8)).weight.data)


def test_linear_and_conv_reject_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2d(1, 1, 0)
    with pytest.raises(ValueError, match="padding"):
        nn.Conv2d(1, 1, 3, padding=-1)
    with pytest.raises(ValueError, match=r"expected input \(\.\.\., 4\)"):
        nn.Linear(4, 2)(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="Conv2d: expected input"):
        nn.Conv2d(3, 2, 3)(np.zeros((1, 2, 5, 5)))


# ------------------------------------------------------------------------------ normalisation


def _set_affine(bn, seed):
    r = rng(seed)
    bn.weight.data[...] = r.uniform(0.5, 1.5, bn.weight.shape)
    bn.bias.data[...] = r.standard_normal(bn.bias.shape)


@pytest.mark.parametrize(
    ("cls", "shape"), [(nn.BatchNorm1d, (8, 3)), (nn.BatchNorm1d, (4, 3, 5)), (nn.BatchNorm2d, (4, 3, 5, 6))]
)
def test_batchnorm_training_output_and_running_stats_match_pytorch_formula(cls, shape):
    bn = cls(3, eps=1e-3, momentum=0.2)
    _set_affine(bn, 0)
    running_mean, running_var = np.zeros(3), np.ones(3)
    for step in range(3):
        x = rng(10 + step).standard_normal(shape) * 2.0 + 1.5
        y = bn(Tensor(x))
        expected, batch_mean, unbiased_var = batchnorm_reference(x, bn.weight.data, bn.bias.data, 1e-3)
        np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
        running_mean = 0.8 * running_mean + 0.2 * batch_mean
        running_var = 0.8 * running_var + 0.2 * unbiased_var  # unbiased, unlike the normalisation
        np.testing.assert_allclose(bn.running_mean.data, running_mean, rtol=1e-13)
        np.testing.assert_allclose(bn.running_var.data, running_var, rtol=1e-13)
    assert int(bn.num_batches_tracked.data) == 3

    bn.eval()
    x = rng(20).standard_normal(shape)
    cshape = (1, 3) + (1,) * (len(shape) - 2)
    expected = (x - running_mean.reshape(cshape)) / np.sqrt(running_var.reshape(cshape) + 1e-3)
    expected = expected * bn.weight.data.reshape(cshape) + bn.bias.data.reshape(cshape)
    np.testing.assert_allclose(bn(x).data, expected, rtol=1e-12)
    before = bn.running_mean.data.copy()
    bn(x)
    np.testing.assert_array_equal(bn.running_mean.data, before)  # eval does not update the stats
    assert int(bn.num_batches_tracked.data) == 3


def test_train_eval_switch_changes_batchnorm_behaviour_through_a_container():
    model = nn.Sequential(nn.Linear(3, 4, rng=rng(0)), nn.BatchNorm1d(4))
    x = rng(1).standard_normal((16, 3)) + 3.0
    train_out = model(x).data
    # Training normalises with the batch statistics: zero mean, unit (biased) variance.
    np.testing.assert_allclose(train_out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(train_out.var(axis=0), 1.0, rtol=1e-3)
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    eval_out = model(x).data
    assert not np.allclose(eval_out, train_out, atol=1e-2)
    model.train()
    assert all(m.training for m in model.modules())
    np.testing.assert_allclose(model(x).data, train_out, rtol=1e-12)


def test_batchnorm_momentum_none_is_cumulative_average_and_needs_two_values():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [rng(s).standard_normal((5, 2)) for s in range(4)]
    for x in batches:
        bn(x)
    np.testing.assert_allclose(bn.running_mean.data, np.mean([b.mean(axis=0) for b in batches], axis=0), rtol=1e-12)
    unbiased = np.mean([b.var(axis=0, ddof=1) for b in batches], axis=0)
    np.testing.assert_allclose(bn.running_var.data, unbiased, rtol=1e-12)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(np.ones((1, 2)))
    with pytest.raises(ValueError, match="C=2"):
        bn(np.ones((4, 3)))
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm2d(2, momentum=1.5)


def test_layernorm_matches_numpy_over_trailing_dims():
    ln = nn.LayerNorm((3, 4), eps=1e-4)
    r = rng(3)
    ln.weight.data[...] = r.uniform(0.5, 1.5, (3, 4))
    ln.bias.data[...] = r.standard_normal((3, 4))
    x = r.standard_normal((2, 5, 3, 4)) * 3 + 1
    mean = x.mean(axis=(-2, -1), keepdims=True)
    var = x.var(axis=(-2, -1), keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-4) * ln.weight.data + ln.bias.data
    np.testing.assert_allclose(ln(x).data, expected, rtol=1e-12, atol=1e-12)
    ln.eval()  # no running statistics: the same in both modes
    np.testing.assert_allclose(ln(x).data, expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="LayerNorm: expected input"):
        ln(np.zeros((2, 4, 3)))


# ------------------------------------------------------------------------------ attention


@pytest.mark.parametrize("shape", [(2, 5, 4), (5, 4)])
def test_self_attention_matches_numpy_formula(shape):
    attn = nn.SelfAttention(4, rng=rng(5))
    x = rng(6).standard_normal(shape)

    def proj(lin, a):
        return a @ lin.weight.data.T + lin.bias.data

    q, k, v = proj(attn.q, x), proj(attn.k, x), proj(attn.v, x)
    weights = softmax_reference(q @ np.swapaxes(k, -1, -2) / math.sqrt(4))
    expected = proj(attn.out, weights @ v)
    np.testing.assert_allclose(attn.attention_weights(x).data, weights, rtol=1e-12)
    np.testing.assert_allclose(attn.attention_weights(x).data.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(attn(Tensor(x)).data, expected, rtol=1e-11, atol=1e-12)
    assert [n for n, _ in attn.named_parameters()] == [
        f"{p}.{w}" for p in ("q", "k", "v", "out") for w in ("weight", "bias")
    ]
    with pytest.raises(ValueError, match="SelfAttention: expected input"):
        attn(np.zeros((1, 2, 5, 4)))


# ------------------------------------------------------------------------------ parameter-free layers


def test_relu_maxpool_flatten_and_sequential():
    x = rng(7).standard_normal((2, 3, 4, 6))
    np.testing.assert_array_equal(nn.ReLU()(x).data, np.maximum(x, 0))
    pooled = nn.MaxPool2d(2)(x).data
    np.testing.assert_array_equal(pooled, x.reshape(2, 3, 2, 2, 3, 2).max(axis=(3, 5)))
    overlapping = nn.MaxPool2d((2, 3), stride=1)(x).data
    assert overlapping.shape == (2, 3, 3, 4)
    assert overlapping[1, 2, 1, 3] == x[1, 2, 1:3, 3:6].max()
    assert nn.Flatten()(x).shape == (2, 72)

    model = nn.Sequential(
        nn.Conv2d(3, 2, 3, padding=1, rng=rng(0)),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(12, 1, rng=rng(1)),
    )
    assert len(model) == 5 and isinstance(model[-1], nn.Linear) and isinstance(model[1], nn.ReLU)
    assert [type(m) for m in model[1:3]] == [nn.ReLU, nn.MaxPool2d]
    expected = x
    for m in model:
        expected = m(expected)
    np.testing.assert_allclose(model(x).data, expected.data, rtol=1e-13)
    assert model(x).shape == (2, 1)
    with pytest.raises(IndexError):
        model[5]
    with pytest.raises(TypeError, match="must be a Module"):
        nn.Sequential(nn.ReLU(), lambda t: t)


# ------------------------------------------------------------------------------ gradients


def test_linear_gradients_first_and_second_order():
    assert_module_gradients(nn.Linear(3, 2, rng=rng(0)), rng(1).standard_normal((4, 3)), second_order=True)


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (2, 1)])
def test_conv2d_gradients(stride, padding):
    layer = nn.Conv2d(2, 3, (3, 2), stride=stride, padding=padding, rng=rng(2))
    assert_module_gradients(layer, rng(3).standard_normal((2, 2, 5, 4)))


@pytest.mark.parametrize(("cls", "shape"), [(nn.BatchNorm1d, (6, 3)), (nn.BatchNorm2d, (3, 2, 3, 3))])
def test_batchnorm_gradients_in_training_and_eval(cls, shape):
    bn = cls(shape[1])
    _set_affine(bn, 4)
    x = rng(5).standard_normal(shape)
    assert_module_gradients(bn, x, second_order=cls is nn.BatchNorm1d)
    bn.running_mean.data[...] = rng(6).standard_normal(shape[1])
    bn.eval()
    assert_module_gradients(bn, x)


def test_layernorm_gradients_first_and_second_order():
    ln = nn.LayerNorm(4)
    ln.weight.data[...] = rng(7).uniform(0.5, 1.5, 4)
    assert_module_gradients(ln, rng(8).standard_normal((3, 4)), second_order=True)


def test_self_attention_gradients_first_and_second_order():
    assert_module_gradients(nn.SelfAttention(3, rng=rng(9)), rng(10).standard_normal((2, 3, 3)), second_order=True)


def test_small_cnn_gradients():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, rng=rng(11)),
        nn.BatchNorm2d(2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8, 2, rng=rng(12)),
    )
    assert_module_gradients(model, rng(13).standard_normal((2, 1, 4, 4)))


def test_backward_fills_parameter_grads_and_zero_grad_clears_them():
    model = nn.Sequential(nn.Linear(3, 4, rng=rng(0)), nn.ReLU(), nn.Linear(4, 1, rng=rng(1)))
    x = rng(2).standard_normal((5, 3))
    model(x).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    # d(sum y)/d(b2) = number of samples
    np.testing.assert_allclose(model[2].bias.grad.data, [5.0])
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# ------------------------------------------------------------------------------ Module bookkeeping


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(2))
        self.encoder = nn.Linear(2, 2, rng=rng(0))
        self.decoder = self.encoder  # weight tying
        self.register_buffer("steps", np.zeros(()))
        self.name = "plain attribute"

    def forward(self, x):
        return self.decoder(self.encoder(x)) * self.scale


def test_registration_order_deduplication_and_traversal():
    m = Shared()
    assert [n for n, _ in m.named_parameters()] == ["scale", "encoder.weight", "encoder.bias"]
    assert len(list(m.parameters())) == 3
    assert [n for n, _ in m.named_children()] == ["encoder"]
    assert len(list(m.modules())) == 2
    assert [n for n, _ in m.named_buffers()] == ["steps"]
    assert m.name == "plain attribute" and "name" not in m.state_dict()
    # A shared module is saved under each name, as PyTorch does.
    assert list(m.state_dict()) == [
        "scale", "steps", "encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias",
    ]  # fmt: skip
    with pytest.raises(TypeError, match="parameter 'scale'"):
        m.scale = Tensor(np.ones(2))
    m.scale = nn.Parameter(np.zeros(2))  # replacing by a Parameter is fine
    assert np.all(next(m.parameters()).data == 0)
    del m.decoder
    assert [n for n, _ in m.named_children()] == ["encoder"] and "decoder.weight" not in m.state_dict()
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        m.missing


def test_assigning_before_init_is_a_clear_error():
    class Forgot(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(1))

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Forgot()


def _cnn(seed):
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, rng=rng(seed)), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3, rng=rng(seed + 1))
    )


def test_state_dict_is_a_copy_and_round_trips_parameters_and_buffers():
    source, target = _cnn(0), _cnn(10)
    x = rng(1).standard_normal((4, 1, 4, 4))
    source(x)  # moves the BatchNorm running statistics away from their initial values
    state = source.state_dict()
    assert list(state) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "3.weight", "3.bias",
    ]  # fmt: skip
    assert all(isinstance(v, np.ndarray) for v in state.values())
    saved_mean = state["1.running_mean"].copy()
    source(x + 1.0)
    np.testing.assert_array_equal(state["1.running_mean"], saved_mean)  # not a view

    weight = target[0].weight
    result = target.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert target[0].weight is weight  # loaded in place: optimisers keep the same Tensors
    for key, value in target.state_dict().items():
        np.testing.assert_array_equal(value, state[key])
    source.load_state_dict(state)
    source.eval(), target.eval()
    np.testing.assert_array_equal(target(x).data, source(x).data)


def test_load_state_dict_errors_and_non_strict_loading():
    model = _cnn(0)
    state = model.state_dict()
    before = model.state_dict()

    missing = {k: v for k, v in state.items() if k != "3.bias"}
    with pytest.raises(KeyError, match=r"missing keys \['3.bias'\], unexpected keys \[\]"):
        model.load_state_dict(missing)
    extra = dict(state, **{"4.weight": np.zeros(1)})
    with pytest.raises(KeyError, match=r"unexpected keys \['4.weight'\]"):
        model.load_state_dict(extra)
    wrong = dict(state)
    wrong["0.bias"] = np.zeros(3)
    wrong["3.weight"] = np.full((3, 8), 7.0)
    with pytest.raises(ValueError, match=r"shape mismatch for '0.bias'.*\(3,\).*\(2,\)"):
        model.load_state_dict(wrong, strict=False)
    # Nothing was written before the error was found.
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])

    partial = {"3.weight": np.full((3, 8), 2.0), "extra": np.ones(1)}
    result = model.load_state_dict(partial, strict=False)
    assert result.unexpected_keys == ["extra"] and "3.weight" not in result.missing_keys
    assert len(result.missing_keys) == len(state) - 1
    np.testing.assert_array_equal(model[3].weight.data, 2.0)
    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict([("3.weight", np.ones((3, 8)))])


def test_functional_call_substitutes_and_restores():
    layer = nn.Linear(2, 1, rng=rng(0))
    original = layer.weight
    x = np.array([[1.0, 2.0]])
    y = nn.functional_call(layer, {"weight": np.array([[3.0, 4.0]]), "bias": np.array([0.5])}, x)
    np.testing.assert_allclose(y.data, [[11.5]])
    assert layer.weight is original
    with pytest.raises(KeyError, match="not a parameter"):
        nn.functional_call(layer, {"nope": np.zeros(1)}, x)


# ------------------------------------------------------------------------------ init


def test_fans_and_gains_match_pytorch():
    w = nn.Parameter(np.zeros((8, 3, 5, 2)))
    assert init.calculate_fan_in_and_fan_out(w) == (30, 80)
    assert init.calculate_fan_in_and_fan_out(nn.Parameter(np.zeros((4, 6)))) == (6, 4)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.calculate_fan_in_and_fan_out(nn.Parameter(np.zeros(4)))
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(1 / math.sqrt(3))
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


@pytest.mark.parametrize(
    ("fn", "kwargs", "expected_std"),
    [
        (init.kaiming_uniform_, {"nonlinearity": "relu"}, math.sqrt(2 / 120)),
        (init.kaiming_normal_, {"nonlinearity": "relu"}, math.sqrt(2 / 120)),
        (init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(2 / 360)),
        (init.kaiming_uniform_, {"a": 0.2, "nonlinearity": "leaky_relu"}, math.sqrt(2 / 1.04 / 120)),
        (init.xavier_uniform_, {}, math.sqrt(2 / 480)),
        (init.xavier_normal_, {"gain": init.calculate_gain("tanh")}, 5 / 3 * math.sqrt(2 / 480)),
    ],
)
def test_init_functions_have_the_prescribed_spread(fn, kwargs, expected_std):
    w = nn.Parameter(np.zeros((90, 30, 2, 2)))  # fan_in = 30 * 4 = 120, fan_out = 90 * 4 = 360
    array = w.data
    assert fn(w, rng=rng(0), **kwargs) is w
    assert w.data is array  # in place
    assert w.data.std() == pytest.approx(expected_std, rel=0.03)
    assert abs(w.data.mean()) < 0.05 * expected_std
    if "uniform" in fn.__name__:
        assert np.abs(w.data).max() <= math.sqrt(3) * expected_std


def test_constant_inits_and_validation():
    p = nn.Parameter(np.full((2, 3), 5.0))
    assert init.zeros_(p) is p and np.all(p.data == 0)
    init.ones_(p)
    assert np.all(p.data == 1)
    with pytest.raises(TypeError, match="must be a Tensor"):
        init.zeros_(np.ones(3))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform_(p, mode="fan_avg")
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        init.xavier_normal_(p, rng=0)
    f32 = nn.Parameter(np.zeros((3, 4), dtype=np.float32))
    init.kaiming_normal_(f32, rng=rng(1))
    assert f32.dtype == np.float32 and np.any(f32.data != 0)


def test_normalisation_without_affine_parameters():
    bn = nn.BatchNorm1d(3, affine=False)
    ln = nn.LayerNorm(4, elementwise_affine=False)
    assert list(bn.parameters()) == [] and list(ln.parameters()) == []
    assert list(bn.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    x = rng(14).standard_normal((6, 3, 4)) * 5 - 2
    y = bn(x).data
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2)), 1.0, rtol=1e-3)
    z = ln(x).data
    np.testing.assert_allclose(z.mean(axis=-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.var(axis=-1), 1.0, rtol=1e-3)


def test_parameter_is_a_tensor_that_requires_grad_and_shares_memory():
    array = np.ones(3)
    p = nn.Parameter(array)
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    assert p.data is array
    assert repr(p).startswith("Parameter([1., 1., 1.]")
    with pytest.raises(TypeError, match="floating-point"):
        nn.Parameter(np.arange(3))
