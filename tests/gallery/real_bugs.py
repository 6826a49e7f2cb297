"""A gallery of real gradient bugs from public code, re-created in NumPy with their fixes.

Every entry is a bug that was reported and (mostly) fixed in a public repository: a wrong
backward pass, a loss layer whose gradient disagrees with its value, a loss whose value and
gradient share the same defect. Each is re-created as faithfully as NumPy allows (the same
formula, the same slip, the same constants), with the fix, at inputs where the bug shows as it
did for its users, and cites where it was found.

The fields extend :class:`gallery.wrong_gradients.Case`:

- ``loss``, ``right``, ``wrong``, ``inputs``, ``bounds`` as there; ``kind`` is the TRUE class of
  the bug (what a reader of the thread and the fix would call it), which the audit should give;
- ``citation``: the repository and the issue, pull request or commit that documents the bug;
- ``condition``: for a wrong branch, the condition on whose one side the gradient is wrong;
- ``like`` and ``like_mapping``: for a defect the loss shares with its gradient ("value
  mismatch"), the nploss loss it should equal and how to call it: each array argument of that
  loss (``spec.args``) maps to the name of one of our inputs, every other key is a parameter
  value, and ``"reduction"`` ("mean", "sum", "sum / rows") says how its per-element values are
  reduced to our scalar;
- ``fixed_loss``: where the bug is in the loss itself (a shared defect, a loss that mutates its
  input), the fixed loss: ``right`` is its gradient, while ``wrong`` is the gradient the buggy
  ``loss`` came with; None elsewhere, where ``right`` and ``wrong`` are both meant as gradients
  of ``loss``;
- ``notes``: anything the class alone does not say (where a NaN sits, for instance).
- ``params``: inputs that are parameters (a scale, an upstream gradient) set to the value the
  original tests used, at which a "parameter factor" bug is invisible;
- ``stress_scale``: the audit's ``stress_scale`` for this entry (0 where the loss itself
  overflows at scaled inputs, as the exponential loss does: no gradient can be right there).

``names`` gives each input's name (the ones the original code used where it had them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gallery.wrong_gradients import Case

rng = np.random.default_rng(2026)


@dataclass
class RealBug(Case):
    citation: str = ""
    condition: str | None = None
    like: str | None = None
    like_mapping: dict | None = None
    params: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    fixed_loss: Callable[..., float] | None = None
    stress_scale: float = 1e3
    notes: str = ""


CASES: list[RealBug] = []


# =============================================================================================
# 1. Caffe, ContrastiveLossLayer, legacy_version, GPU backward (BVLC/caffe PR #7100).
#    CLLBackward sets bottom_diff[i] = beta = -alpha for a dissimilar pair inside the margin,
#    where the CPU code (and the fix) gives -alpha * diff[i]: the factor (a - b) is dropped.
#    L = 1/(2N) sum_i [ y_i d_i^2 + (1 - y_i) max(margin - d_i^2, 0) ],  d_i^2 = ||a_i - b_i||^2
# =============================================================================================
CL_MARGIN = 1.0  # Caffe's default contrastive_loss_param.margin
CL_A = 0.45 * rng.standard_normal((8, 3))
CL_B = 0.45 * rng.standard_normal((8, 3))
CL_SIM = np.array([1, 0, 0, 1, 0, 0, 1, 0])  # 1: similar pair, 0: dissimilar (Caffe's bottom[2])


def caffe_contrastive_legacy(a, b, sim, margin=CL_MARGIN):
    d2 = np.sum((a - b) ** 2, axis=1)
    per_pair = np.where(sim == 1, d2, np.maximum(margin - d2, 0.0))
    return np.sum(per_pair) / (2.0 * len(a))


def caffe_contrastive_legacy_grad(a, b, sim, margin=CL_MARGIN):
    # alpha = sign * top_diff / num; similar: alpha * diff; dissimilar inside the margin: -alpha * diff
    diff = a - b
    d2 = np.sum(diff**2, axis=1, keepdims=True)
    similar = (sim == 1)[:, None]
    inside = margin - d2 > 0
    g = np.where(similar, diff, np.where(inside, -diff, 0.0)) / len(a)
    return g, -g


def caffe_contrastive_legacy_grad_gpu(a, b, sim, margin=CL_MARGIN):
    diff = a - b
    d2 = np.sum(diff**2, axis=1, keepdims=True)
    similar = (sim == 1)[:, None]
    inside = margin - d2 > 0
    # beta = -alpha; bottom_diff[i] = beta: the same constant on every channel of the pair
    g = np.where(similar, diff, np.where(inside, -np.ones_like(diff), 0.0)) / len(a)
    return g, -g


CASES.append(
    RealBug(
        "Caffe legacy contrastive loss, GPU backward of dissimilar pairs",
        caffe_contrastive_legacy,
        caffe_contrastive_legacy_grad,
        caffe_contrastive_legacy_grad_gpu,
        [CL_A, CL_B, CL_SIM],
        "wrong branch",
        citation="BVLC/caffe pull request #7100 (src/caffe/layers/contrastive_loss_layer.cu, CLLBackward)",
        condition="sim[i] == 0 and margin - ||a_i - b_i||^2 > 0",
        names=("a", "b", "sim"),
    )
)


# =============================================================================================
# 2. scikit-learn, ExponentialLoss.negative_gradient returned the positive gradient
#    (scikit-learn issue #9666). L = mean(exp(-(2y - 1) f)); the code returned
#    y_ * exp(y_ * f) with y_ = -(2y - 1), which is dL_i/df_i, not its negative.
# =============================================================================================
EXP_PRED = rng.standard_normal(10)
EXP_Y = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 0])


def sklearn_exponential_loss(pred, y):
    return np.mean(np.exp(-(2.0 * y - 1.0) * pred))


def sklearn_exponential_grad(pred, y):
    u = -(2.0 * y - 1.0)
    return u * np.exp(u * pred) / len(pred)


def sklearn_exponential_grad_from_negative_gradient(pred, y):
    u = -(2.0 * y - 1.0)
    negative_gradient = u * np.exp(u * pred)  # as returned: the gradient itself
    return -negative_gradient / len(pred)  # so the gradient read from it is the negative one


CASES.append(
    RealBug(
        "scikit-learn ExponentialLoss negative gradient with the wrong sign",
        sklearn_exponential_loss,
        sklearn_exponential_grad,
        sklearn_exponential_grad_from_negative_gradient,
        [EXP_PRED, EXP_Y],
        "wrong sign",
        citation="scikit-learn/scikit-learn issue #9666 (sklearn/ensemble/gradient_boosting.py, ExponentialLoss)",
        names=("pred", "y"),
        stress_scale=0.0,
    )
)


# =============================================================================================
# 3. Knet.jl, batchnorm4_back on the CPU ignored the scales g in the input's gradient
#    (denizyuret/Knet.jl issue #288, fixed in pull request #289). dyivar = dy .* ivar was
#    computed before dy = g .* dy, so dx misses the factor g; bnparams initialises g to 1,
#    which is why the tests passed.  Here L = sum(dy * (g * xhat + b)), per feature over the batch.
# =============================================================================================
BN_EPS = 1e-5  # Knet's default eps
BN_X = rng.standard_normal((6, 4))
BN_G = np.ones(4)  # bnparams: scales initialised to one
BN_B = np.zeros(4)  # bnparams: biases initialised to zero
BN_DY = rng.standard_normal((6, 4))  # the gradient arriving from above


def _bn_stats(x):
    mu = x.mean(axis=0)
    ivar = 1.0 / np.sqrt(x.var(axis=0) + BN_EPS)
    return mu, ivar


def knet_batchnorm(x, g, b, dy):
    mu, ivar = _bn_stats(x)
    return np.sum(dy * (g * (x - mu) * ivar + b))


def _knet_bn_back(x, g, b, dy, scale_first):
    mu, ivar = _bn_stats(x)
    x_mu = x - mu
    m = x.shape[0]
    dg = np.sum(x_mu * dy * ivar, axis=0)
    db = np.sum(dy, axis=0)
    dxhat = g * dy
    dyivar = (dxhat if scale_first else dy) * ivar  # the bug: dy .* ivar before dy = g .* dy
    dsigma2 = -0.5 * np.sum(dyivar * x_mu * ivar**2, axis=0)
    dmu = -np.sum(dyivar, axis=0) - 2 * dsigma2 * np.sum(x_mu, axis=0) / m
    dx = dyivar + dsigma2 * 2 * x_mu / m + dmu / m
    ddy = g * x_mu * ivar + b
    return dx, dg, db, ddy


def knet_batchnorm_grad(x, g, b, dy):
    return _knet_bn_back(x, g, b, dy, scale_first=True)


def knet_batchnorm_grad_unscaled(x, g, b, dy):
    return _knet_bn_back(x, g, b, dy, scale_first=False)


CASES.append(
    RealBug(
        "Knet batch-norm backward forgetting the scales in dx",
        knet_batchnorm,
        knet_batchnorm_grad,
        knet_batchnorm_grad_unscaled,
        [BN_X, BN_G, BN_B, BN_DY],
        "parameter factor",
        citation="denizyuret/Knet.jl issue #288, fixed by pull request #289 (src/batchnorm.jl, batchnorm4_back)",
        params=("g",),
        names=("x", "g", "b", "dy"),
    )
)


# =============================================================================================
# 4. Chainer, HuberLoss.backward ignored gy (chainer/chainer issue #1175, pull request #1178):
#    gx = where(|diff| <= delta, diff, delta * sign(diff)), returned without the upstream
#    gradient, so (F.huber_loss(x, t) * 0).backward() still gave x.grad = -1. The tests used
#    gy = None (ones) until the fix. L = sum_i gy_i * sum_j huber(x0_ij - x1_ij).
# =============================================================================================
HB_DELTA = 1.0
HB_X0 = 1.5 * rng.standard_normal((5, 3))
HB_X1 = rng.standard_normal((5, 3))
HB_GY = np.ones(5)  # what backward() received in the tests before the fix


def _huber_rows(x0, x1, delta=HB_DELTA):
    diff = x0 - x1
    flag = np.abs(diff) <= delta
    y = flag * 0.5 * diff**2 + (~flag) * delta * (np.abs(diff) - 0.5 * delta)
    return y.sum(axis=1)


def chainer_huber(x0, x1, gy):
    return np.sum(gy * _huber_rows(x0, x1))


def chainer_huber_grad(x0, x1, gy):
    diff = x0 - x1
    gx = np.where(np.abs(diff) <= HB_DELTA, diff, HB_DELTA * np.sign(diff))
    gx = gy[:, None] * gx  # the fix: scale by the upstream gradient
    return gx, -gx, _huber_rows(x0, x1)


def chainer_huber_grad_ignoring_gy(x0, x1, gy):
    diff = x0 - x1
    gx = np.where(np.abs(diff) <= HB_DELTA, diff, HB_DELTA * np.sign(diff))
    return gx, -gx, _huber_rows(x0, x1)


CASES.append(
    RealBug(
        "Chainer HuberLoss backward ignoring the upstream gradient",
        chainer_huber,
        chainer_huber_grad,
        chainer_huber_grad_ignoring_gy,
        [HB_X0, HB_X1, HB_GY],
        "parameter factor",
        citation="chainer/chainer issue #1175, fixed by pull request #1178 (chainer/functions/loss/huber_loss.py)",
        params=("gy",),
        names=("x0", "x1", "gy"),
    )
)


# =============================================================================================
# 5. Theano, the gradient of T.max routes the full gradient to every tied maximum
#    (Theano/Theano issue #4568; the same for max pooling, issues #5248 and #5404):
#    max([1, 1]) has gradient [1, 1], outside the subdifferential. TensorFlow's reduce_max
#    splits it evenly among the ties (tensorflow/tensorflow issue #4886), the fix used here.
#    L = sum over rows of max_j x_ij, rows with two and three tied maxima.
# =============================================================================================
MX_X = np.array([[1.0, 2.0, 2.0, 2.0], [0.5, -1.0, 0.5, 0.3], [0.1, 0.7, -0.2, 0.4]])


def theano_row_max(x):
    return np.sum(np.max(x, axis=1))


def theano_row_max_grad_split(x):
    ties = x == x.max(axis=1, keepdims=True)
    return ties / ties.sum(axis=1, keepdims=True)


def theano_row_max_grad_every_tie(x):
    return (x == x.max(axis=1, keepdims=True)).astype(float)  # 1 for each tied maximum


CASES.append(
    RealBug(
        "Theano max gradient given in full to every tied maximum",
        theano_row_max,
        theano_row_max_grad_split,
        theano_row_max_grad_every_tie,
        [MX_X],
        "wrong at ties",
        citation="Theano/Theano issue #4568 (theano.tensor.max; max pooling: issues #5248, #5404)",
        names=("x",),
    )
)


# =============================================================================================
# 6. ONNX Runtime, Min/Max gradient: pull request #6286 gave each input equal to the maximum a
#    gradient of 1, which made TwinBERT training diverge in fp16; pull request #7217 keeps the
#    total at 1 (to one of the tied inputs, or split evenly: both trained well; split here).
#    L = sum(max(a, b) * w) elementwise.
# =============================================================================================
OX_A = np.array([0.3, -1.2, 0.8, 2.0, 0.5, -0.4])
OX_B = np.array([0.3, 0.4, 0.8, -1.0, 0.5, 0.1])  # three ties with a
OX_W = np.array([1.0, 0.5, -2.0, 1.5, 0.7, -1.0])  # a fixed weighting, as a later layer would give


def onnx_max(a, b):
    return np.sum(np.maximum(a, b) * OX_W)


def onnx_max_grad_split(a, b):
    share_a = np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))
    return OX_W * share_a, OX_W * (1.0 - share_a)


def onnx_max_grad_every_tie(a, b):
    return OX_W * (a >= b), OX_W * (b >= a)  # both inputs get the whole gradient at a tie


CASES.append(
    RealBug(
        "ONNX Runtime Max gradient given in full to both tied inputs",
        onnx_max,
        onnx_max_grad_split,
        onnx_max_grad_every_tie,
        [OX_A, OX_B],
        "wrong at ties",
        citation="microsoft/onnxruntime pull request #7217 (replacing the Min/Max gradient of pull request #6286)",
        names=("a", "b"),
    )
)


# =============================================================================================
# 7. Pytorch-UNet, DiceCoeff.backward (milesial/Pytorch-UNet issue #35, commit 649124b):
#    grad = 2 * (target * union + inter) / union * union had + where the quotient rule gives -,
#    and the precedence of "/ union * union" cancels the division the derivation has.
#    D = (2 I + eps) / U,  I = input . target,  U = sum(input) + sum(target) + eps.
#    The fix used here is the derivation, exact: dD/dinput = 2 t / U - (2 I + eps) / U^2.
# =============================================================================================
DC_EPS = 0.0001
DC_INPUT = rng.uniform(0.05, 0.95, (4, 4))
DC_TARGET = (rng.uniform(size=(4, 4)) > 0.5).astype(np.int64)  # a mask: not differentiated


def unet_dice_coeff(inp, target):
    inter = np.dot(inp.ravel(), target.ravel())
    union = np.sum(inp) + np.sum(target) + DC_EPS
    return (2 * inter + DC_EPS) / union


def unet_dice_coeff_grad(inp, target):
    inter = np.dot(inp.ravel(), target.ravel())
    union = np.sum(inp) + np.sum(target) + DC_EPS
    return 2 * target / union - (2 * inter + DC_EPS) / union**2


def unet_dice_coeff_grad_before_649124b(inp, target):
    inter = np.dot(inp.ravel(), target.ravel())
    union = np.sum(inp) + np.sum(target) + DC_EPS
    return 2 * (target * union + inter) / union * union  # + instead of -; / U * U is U / U


CASES.append(
    RealBug(
        "Pytorch-UNet Dice coefficient backward with + for - in the quotient rule",
        unet_dice_coeff,
        unet_dice_coeff_grad,
        unet_dice_coeff_grad_before_649124b,
        [DC_INPUT, DC_TARGET],
        "wrong term",
        citation="milesial/Pytorch-UNet issue #35, commit 649124b (dice_loss.py, DiceCoeff.backward)",
        names=("input", "target"),
    )
)


# =============================================================================================
# 8. micrograd_c, backward_subtract gave the second operand +grad instead of -grad
#    (KhawajaAbaid/micrograd_c issue #1, fixed in commit 1f7a98d). L = sum((a - b)^2).
# =============================================================================================
SB_A = rng.standard_normal(6)
SB_B = rng.standard_normal(6)


def micrograd_c_squared_difference(a, b):
    return np.sum((a - b) ** 2)


def micrograd_c_squared_difference_grad(a, b):
    g = 2 * (a - b)
    return g, -g


def micrograd_c_squared_difference_grad_plus(a, b):
    g = 2 * (a - b)
    return g, g  # the subtraction node passes +grad to its second child


CASES.append(
    RealBug(
        "micrograd_c subtraction passing +grad to its second operand",
        micrograd_c_squared_difference,
        micrograd_c_squared_difference_grad,
        micrograd_c_squared_difference_grad_plus,
        [SB_A, SB_B],
        "wrong sign",
        citation="KhawajaAbaid/micrograd_c issue #1, commit 1f7a98d (engine.h, backward_subtract)",
        names=("a", "b"),
    )
)


# =============================================================================================
# 9. Caffe, EuclideanLossLayer backpropagated to bottom[0] only (BVLC/caffe pull request #137:
#    "The backpropagated gradient is sent to only one of the bottom blobs"); later Caffe
#    backpropagates to both inputs. L = sum ||a - b||^2 / (2N).
# =============================================================================================
EU_A = rng.standard_normal((5, 3))
EU_B = rng.standard_normal((5, 3))


def caffe_euclidean(a, b):
    return np.sum((a - b) ** 2) / (2.0 * len(a))


def caffe_euclidean_grad(a, b):
    g = (a - b) / len(a)
    return g, -g


def caffe_euclidean_grad_bottom0_only(a, b):
    return (a - b) / len(a), np.zeros_like(b)


CASES.append(
    RealBug(
        "Caffe Euclidean loss backpropagating to its first input only",
        caffe_euclidean,
        caffe_euclidean_grad,
        caffe_euclidean_grad_bottom0_only,
        [EU_A, EU_B],
        "missing gradient",
        citation="BVLC/caffe pull request #137 (src/caffe/layers/euclidean_loss_layer.cpp, Backward_cpu)",
        names=("a", "b"),
    )
)


# =============================================================================================
# 10. CVXPY, the logistic atom's gradient exp(x) / (1 + exp(x)) overflows to inf / inf = NaN for
#     x above ~710 while its value uses np.logaddexp (cvxpy/cvxpy pull request #1359, which
#     computes exp(x - logaddexp(0, x))). L = sum log(1 + e^x).
# =============================================================================================
LG_X = 3.0 * rng.standard_normal(8)


def cvxpy_logistic(x):
    return np.sum(np.logaddexp(0.0, x))


def cvxpy_logistic_grad(x):
    return np.exp(x - np.logaddexp(0.0, x))


def cvxpy_logistic_grad_overflowing(x):
    e = np.exp(x)
    return e / (1.0 + e)


CASES.append(
    RealBug(
        "CVXPY logistic gradient overflowing through exp(x)",
        cvxpy_logistic,
        cvxpy_logistic_grad,
        cvxpy_logistic_grad_overflowing,
        [LG_X],
        "overflow",
        citation="cvxpy/cvxpy pull request #1359 (cvxpy/atoms/elementwise/logistic.py, logistic._grad)",
        names=("x",),
    )
)


# =============================================================================================
# 11. Caffe, ContrastiveLossLayer before pull request #2321 (issue #2308): for a dissimilar pair
#     it computed max(margin - d^2, 0) where Hadsell, Chopra and LeCun (2006) have
#     max(margin - d, 0)^2. Loss and backward agree with each other (the gradient check passed),
#     so only a comparison with the paper's loss shows it; #2321 made the paper's form the
#     default and kept the old one as legacy_version. Reduction: 1/(2N) sum, i.e. the mean of
#     half the per-pair terms, nploss's contrastive loss with power 2 and the mean.
# =============================================================================================
def caffe_contrastive_hadsell(a, b, sim, margin=CL_MARGIN):
    d2 = np.sum((a - b) ** 2, axis=1)
    hinge = np.maximum(margin - np.sqrt(d2), 0.0)
    return np.sum(np.where(sim == 1, d2, hinge**2)) / (2.0 * len(a))


def caffe_contrastive_hadsell_grad(a, b, sim, margin=CL_MARGIN):
    diff = a - b
    d = np.sqrt(np.sum(diff**2, axis=1, keepdims=True))
    hinge = np.maximum(margin - d, 0.0)
    similar = (sim == 1)[:, None]
    g = np.where(similar, diff, -hinge * diff / d) / len(a)
    return g, -g


CASES.append(
    RealBug(
        "Caffe contrastive loss with max(m - d^2, 0) for the paper's max(m - d, 0)^2",
        caffe_contrastive_legacy,
        caffe_contrastive_hadsell_grad,
        caffe_contrastive_legacy_grad,
        [CL_A, CL_B, CL_SIM],
        "value mismatch",
        citation="BVLC/caffe issue #2308, fixed by pull request #2321 (contrastive_loss_layer.cpp; kept as legacy_version)",
        like="contrastive",
        like_mapping={
            "x1": "a",
            "x2": "b",
            "y": "sim",
            "margin": CL_MARGIN,
            "pos_margin": 0.0,
            "power": 2,
            "label_convention": "similar=1",
            "normalize": False,
            "reduction": "mean",
        },
        fixed_loss=caffe_contrastive_hadsell,
        names=("a", "b", "sim"),
    )
)


# =============================================================================================
# 12. trzy/FasterRCNN, regression_loss: the smooth L1 branch was chosen with x < 1/sigma^2
#     instead of |x| < 1/sigma^2 (issue #2, commit 1ab2d3c), so every error below -1 took the
#     quadratic branch. Written with autograd, the loss and its gradient agree; only the value
#     against smooth L1 shows it. L = sum(smooth_l1(y_true - predicted)) / N, sigma = 1.
# =============================================================================================
FR_SIGMA2 = 1.0
FR_PRED = rng.standard_normal((6, 4))
FR_TRUE = FR_PRED + np.array([-2.5, 0.4, -1.6, 0.2]) * rng.uniform(0.5, 1.5, (6, 4))  # errors both sides of -1


def fasterrcnn_regression_loss(predicted, y_true):
    x = y_true - predicted
    x_abs = np.abs(x)
    negative_branch = x < 1.0 / FR_SIGMA2  # the bug: x, not x_abs
    losses = np.where(negative_branch, 0.5 * x * x * FR_SIGMA2, x_abs - 0.5 / FR_SIGMA2)
    return np.sum(losses) / len(predicted)


def fasterrcnn_regression_loss_grad(predicted, y_true):
    x = y_true - predicted
    g = np.where(x < 1.0 / FR_SIGMA2, x * FR_SIGMA2, np.sign(x)) / len(predicted)
    return -g, g


def fasterrcnn_regression_loss_fixed(predicted, y_true):
    x = y_true - predicted
    x_abs = np.abs(x)
    losses = np.where(x_abs < 1.0 / FR_SIGMA2, 0.5 * x * x * FR_SIGMA2, x_abs - 0.5 / FR_SIGMA2)
    return np.sum(losses) / len(predicted)


def fasterrcnn_regression_loss_fixed_grad(predicted, y_true):
    x = y_true - predicted
    g = np.where(np.abs(x) < 1.0 / FR_SIGMA2, x * FR_SIGMA2, np.sign(x)) / len(predicted)
    return -g, g


CASES.append(
    RealBug(
        "FasterRCNN smooth L1 choosing its branch on x instead of |x|",
        fasterrcnn_regression_loss,
        fasterrcnn_regression_loss_fixed_grad,
        fasterrcnn_regression_loss_grad,
        [FR_PRED, FR_TRUE],
        "value mismatch",
        citation="trzy/FasterRCNN issue #2, commit 1ab2d3c (pytorch/FasterRCNN/models/detector.py, regression_loss)",
        condition="y_true - predicted < -1 / sigma^2",
        like="smooth_l1",
        like_mapping={
            "prediction": "predicted",
            "target": "y_true",
            "beta": 1.0 / FR_SIGMA2,
            "reduction": "sum / rows",
        },
        fixed_loss=fasterrcnn_regression_loss_fixed,
        names=("predicted", "y_true"),
    )
)


# =============================================================================================
# 13. scikit-learn, HalfBinomialLoss.gradient returned NaN for large negative raw predictions
#     (issue #28046, fixed by pull request #28048): it computed
#     ((1 - y) - y * exp(-raw)) / (1 + exp(-raw)), inf / inf at raw = -1e3, while
#     loss_gradient, written stably, gave -1. L = mean(log(1 + e^raw) - y raw).
# =============================================================================================
HB2_RAW = 2.0 * rng.standard_normal(10)
HB2_Y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1])


def sklearn_half_binomial(raw, y):
    return np.mean(np.logaddexp(0.0, raw) - y * raw)


def sklearn_half_binomial_grad(raw, y):
    # expit(raw) - y, with exp evaluated only where it cannot overflow (as #28048)
    e = np.exp(-np.abs(raw))
    expit = np.where(raw >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return (expit - y) / len(raw)


def sklearn_half_binomial_grad_overflowing(raw, y):
    exp_tmp = np.exp(-raw)
    return ((1 - y) - y * exp_tmp) / (1 + exp_tmp) / len(raw)


CASES.append(
    RealBug(
        "scikit-learn HalfBinomialLoss gradient NaN for large negative predictions",
        sklearn_half_binomial,
        sklearn_half_binomial_grad,
        sklearn_half_binomial_grad_overflowing,
        [HB2_RAW, HB2_Y],
        "overflow",
        citation="scikit-learn/scikit-learn issue #28046, fixed by pull request #28048 (sklearn/_loss/_loss.pyx.tp)",
        names=("raw_prediction", "y_true"),
    )
)


# =============================================================================================
# 14. scikit-learn, MLPRegressor with several outputs: squared_loss averages over the outputs
#     too (.mean()), while _backprop's deltas = y_pred - y are divided by n_samples only, so the
#     lbfgs gradient is n_outputs times the gradient of the loss it is returned with
#     (issue #8349; pull request #34830). L = mean((y - y_pred)^2) / 2.
# =============================================================================================
MLP_PRED = rng.standard_normal((6, 3))
MLP_Y = rng.standard_normal((6, 3))


def sklearn_mlp_squared_loss(y_pred, y_true):
    return ((y_true - y_pred) ** 2).mean() / 2


def sklearn_mlp_squared_loss_grad(y_pred, y_true):
    g = (y_pred - y_true) / y_pred.size
    return g, -g


def sklearn_mlp_backprop_deltas(y_pred, y_true):
    g = (y_pred - y_true) / y_pred.shape[0]  # divided by n_samples only
    return g, -g


CASES.append(
    RealBug(
        "scikit-learn MLP squared loss averaged over outputs, gradient over samples only",
        sklearn_mlp_squared_loss,
        sklearn_mlp_squared_loss_grad,
        sklearn_mlp_backprop_deltas,
        [MLP_PRED, MLP_Y],
        "wrong reduction",
        citation="scikit-learn/scikit-learn issue #8349 (sklearn/neural_network/_multilayer_perceptron.py; pull request #34830)",
        names=("y_pred", "y_true"),
    )
)


# =============================================================================================
# 15. d2l.ai, linear regression from scratch: l.mean().backward() followed by the book's sgd,
#     which divides by batch_size again (d2l-ai/d2l-en pull request #1000: "l.mean() -> l.sum()
#     because the custom SGD function already divides by batch_size"). The step applied is the
#     gradient of the minibatch mean divided by batch_size once more. The minibatch X, y is
#     among the inputs (the data's own gradients are exact: sgd never touches them).
#     L(w, b, X, y) = mean((X w + b - y)^2 / 2) over a minibatch of 10.
# =============================================================================================
D2L_X = rng.standard_normal((10, 2))
D2L_Y = D2L_X @ np.array([2.0, -3.4]) + 4.2 + 0.01 * rng.standard_normal(10)  # the book's true w, b
D2L_W = 0.01 * rng.standard_normal(2)
D2L_B = np.zeros(1)


def d2l_minibatch_loss(w, b, X, y):
    return np.mean((X @ w + b - y) ** 2 / 2)


def d2l_minibatch_loss_grad(w, b, X, y):
    r = (X @ w + b - y) / len(y)
    return X.T @ r, np.array([r.sum()]), np.outer(r, w), -r


def d2l_mean_backward_then_sgd(w, b, X, y):
    batch_size = len(y)
    gw, gb, gX, gy = d2l_minibatch_loss_grad(w, b, X, y)  # l.mean().backward()
    return gw / batch_size, gb / batch_size, gX, gy  # sgd: param -= lr * param.grad / batch_size


CASES.append(
    RealBug(
        "d2l linear regression: gradient of the mean divided by the batch size again",
        d2l_minibatch_loss,
        d2l_minibatch_loss_grad,
        d2l_mean_backward_then_sgd,
        [D2L_W, D2L_B, D2L_X, D2L_Y],
        "wrong reduction",
        citation="d2l-ai/d2l-en pull request #1000 (chapter_linear-networks/linear-regression-scratch.md)",
        names=("w", "b", "X", "y"),
    )
)


# =============================================================================================
# 16. Hands-On ML 2, MyLinearSVC.fit: b_derivative = -C * np.sum(t_sv) used the notebook's
#     global C, not self.C (ageron/handson-ml2 issue #386, fixed). The notebook builds the model
#     with C=C=2, so the two agree there and the bug shows only for another C.
#     J(w, b) = 1/2 w.w + C sum_i max(0, 1 - t_i (x_i.w + b)).
# =============================================================================================
SVC_GLOBAL_C = 2.0  # the notebook's global C
SVC_X = rng.standard_normal((12, 2))
SVC_T = np.where(SVC_X @ np.array([1.0, -1.0]) + 0.3 * rng.standard_normal(12) > 0, 1.0, -1.0).reshape(-1, 1)
SVC_W = np.array([[0.8], [-0.5]])
SVC_B = np.array([-0.5])
SVC_C = np.array([SVC_GLOBAL_C])  # self.C, as the notebook sets it


def _svc_support(w, b):
    return (SVC_T * (SVC_X @ w + b) < 1).ravel()


def handson_svc_cost(w, b, C):
    margins = 1 - SVC_T * (SVC_X @ w + b)
    return 0.5 * np.sum(w * w) + C[0] * np.sum(np.maximum(margins, 0.0))


def _handson_svc_grad(w, b, C, c_for_b):
    sv = _svc_support(w, b)
    X_t_sv, t_sv = (SVC_X * SVC_T)[sv], SVC_T[sv]
    w_gradient_vector = w - C[0] * np.sum(X_t_sv, axis=0).reshape(-1, 1)
    b_derivative = -c_for_b * np.sum(t_sv)
    dC = np.sum(np.maximum(1 - SVC_T * (SVC_X @ w + b), 0.0))
    return w_gradient_vector, np.array([b_derivative]), np.array([dC])


def handson_svc_grad(w, b, C):
    return _handson_svc_grad(w, b, C, C[0])


def handson_svc_grad_global_C(w, b, C):
    return _handson_svc_grad(w, b, C, SVC_GLOBAL_C)


CASES.append(
    RealBug(
        "Hands-On ML linear SVC: the bias derivative uses the notebook's global C",
        handson_svc_cost,
        handson_svc_grad,
        handson_svc_grad_global_C,
        [SVC_W, SVC_B, SVC_C],
        "parameter factor",
        citation="ageron/handson-ml2 issue #386 (05_support_vector_machines.ipynb, MyLinearSVC.fit)",
        params=("C",),
        names=("w", "b", "C"),
    )
)


# =============================================================================================
# 17. micrograd lecture: the backward closures assigned self.grad = ... instead of accumulating
#     self.grad += ..., so a value used twice keeps only its last contribution ("NOTE: in the
#     video I incorrectly used = instead of +=. Fixed here.", karpathy/nn-zero-to-hero, quoted
#     in issue #52; the lecture shows it with b = a + a). For a * a, __mul__ writes
#     a.grad = a.data * out.grad twice: a, not 2a.
#     L = sum_i a_i * a_i.
# =============================================================================================
MG_A = rng.standard_normal(6)


def micrograd_square(a):
    return np.sum(a * a)


def micrograd_square_grad(a):
    return 2.0 * a  # self.grad += other.data * out.grad; other.grad += self.data * out.grad


def micrograd_square_grad_assigned(a):
    return 1.0 * a  # both assignments hit the same node: the second overwrites the first


CASES.append(
    RealBug(
        "micrograd backward assigning = instead of accumulating +=",
        micrograd_square,
        micrograd_square_grad,
        micrograd_square_grad_assigned,
        [MG_A],
        "constant factor",
        citation="karpathy/nn-zero-to-hero issue #52 (lectures/micrograd: 'in the video I incorrectly used = instead of +=')",
        names=("a",),
    )
)


# =============================================================================================
# 18. CausalML, metrics.logloss clipped the caller's probabilities in place with
#     p[p < EPS] = EPS and p[p > 1 - EPS] = 1 - EPS (uber/causalml pull request #943, which uses
#     np.clip). Its inputs are the pull request's: p = [0, 1, 0.2, 0.8, 0.9], y = [0, 1, 0, 1, 1].
#     L = -mean(y log p + (1 - y) log(1 - p)), p clipped to [EPS, 1 - EPS].
# =============================================================================================
CM_EPS = 1e-15
CM_P = np.array([0.0, 1.0, 0.2, 0.8, 0.9])
CM_Y = np.array([0, 1, 0, 1, 1])


def _log_loss(y, p):
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def causalml_logloss_in_place(p, y):
    p[p < CM_EPS] = CM_EPS
    p[p > 1 - CM_EPS] = 1 - CM_EPS
    return _log_loss(y, p)


def causalml_logloss(p, y):
    return _log_loss(y, np.clip(p, CM_EPS, 1 - CM_EPS))


def causalml_logloss_grad(p, y):
    inside = (p > CM_EPS) & (p < 1 - CM_EPS)  # the clip is flat outside
    q = np.clip(p, CM_EPS, 1 - CM_EPS)
    return np.where(inside, (q - y) / (q * (1 - q)), 0.0) / len(p)


CASES.append(
    RealBug(
        "CausalML log loss clipping the caller's predictions in place",
        causalml_logloss_in_place,
        causalml_logloss_grad,
        causalml_logloss_grad,
        [CM_P, CM_Y],
        "mutates its input",
        [(0.0, 1.0), None],
        citation="uber/causalml pull request #943 (causalml/metrics/classification.py, logloss)",
        fixed_loss=causalml_logloss,
        names=("p", "y"),
    )
)


# =============================================================================================
# 19. Grokking Deep Learning, chapter 5, several inputs and outputs: weight_deltas =
#     outer_prod(input, delta) where pred[i] = sum_j weights[i][j] input[j] needs
#     outer_prod(delta, input): the deltas come out transposed (iamtrask/Grokking-Deep-Learning
#     pull request #22). The book's delta = pred - true is the gradient of half the squared
#     error, the loss used here. The book's weights and its first example.
# =============================================================================================
GK_INPUT = np.array([8.5, 0.65, 1.2])  # toes, wlrec, nfans
GK_TRUE = np.array([0.1, 1.0, 0.1])  # hurt, win, sad
GK_WEIGHTS = np.array([[0.1, 0.1, -0.3], [0.1, 0.2, 0.0], [0.0, 1.3, 0.1]])


def grokking_error(weights):
    pred = weights @ GK_INPUT
    return 0.5 * np.sum((pred - GK_TRUE) ** 2)


def grokking_weight_deltas(weights):
    delta = weights @ GK_INPUT - GK_TRUE
    return np.outer(delta, GK_INPUT)


def grokking_weight_deltas_transposed(weights):
    delta = weights @ GK_INPUT - GK_TRUE
    return np.outer(GK_INPUT, delta)  # outer_prod(input, delta)


CASES.append(
    RealBug(
        "Grokking Deep Learning weight deltas transposed",
        grokking_error,
        grokking_weight_deltas,
        grokking_weight_deltas_transposed,
        [GK_WEIGHTS],
        "permuted",
        citation="iamtrask/Grokking-Deep-Learning pull request #22 (Chapter5 - Generalizing Gradient Descent.ipynb)",
        names=("weights",),
    )
)


# =============================================================================================
# 20. mlpack, LogSoftMax::Backward computed g = exp(output) + gy (mlpack/mlpack issue #2360:
#     input [0.1, 0.9] and gy = ones gave [1.31, 1.69] where PyTorch gives [0.38, -0.38]); that
#     is right only when the columns of gy sum to -1, as after NegativeLogLikelihood. mlpack now
#     computes g = gy - exp(output) * sum(gy). L = sum(gy * log_softmax(x)), one row per sample.
# =============================================================================================
LS_X = rng.standard_normal((4, 3))
LS_X[0, :2] = [0.1, 0.9]
LS_GY = np.ones((4, 3))  # the upstream gradient


def _log_softmax(x):
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def mlpack_log_softmax(x, gy):
    return np.sum(gy * _log_softmax(x))


def mlpack_log_softmax_grad(x, gy):
    out = _log_softmax(x)
    return gy - np.exp(out) * gy.sum(axis=1, keepdims=True), out


def mlpack_log_softmax_grad_before_fix(x, gy):
    out = _log_softmax(x)
    return np.exp(out) + gy, out


CASES.append(
    RealBug(
        "mlpack LogSoftMax backward exp(output) + gy",
        mlpack_log_softmax,
        mlpack_log_softmax_grad,
        mlpack_log_softmax_grad_before_fix,
        [LS_X, LS_GY],
        "wrong term",
        citation="mlpack/mlpack issue #2360 (src/mlpack/methods/ann/layer/log_softmax_impl.hpp, Backward)",
        names=("x", "gy"),
    )
)


# =============================================================================================
# 21. STAT 453 softmax regression from scratch: grad_loss_wrt_b = -torch.sum(y - probas) sums
#     over classes as well as samples; for one-hot y and probabilities summing to one that is 0,
#     broadcast to every bias, so the biases never move (rasbt/stat453-deep-learning-ss21
#     issue #5: "gives the same weight for all bias terms"; the fix sums over dim=0).
#     L(W, b) = sum_i cross_entropy(softmax(x_i W^T + b), y_i), the loss backward() differentiates.
# =============================================================================================
SR_X = rng.standard_normal((8, 2))
SR_Y = rng.integers(0, 3, 8)
SR_W = 0.5 * rng.standard_normal((3, 2))  # (num_classes, num_features)
SR_B = 0.1 * rng.standard_normal(3)


def _softmax_rows(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def stat453_softmax_regression(W, b):
    z = SR_X @ W.T + b
    return -np.sum(_log_softmax(z)[np.arange(len(SR_Y)), SR_Y])


def stat453_softmax_regression_grad(W, b):
    y = np.eye(3)[SR_Y]
    probas = _softmax_rows(SR_X @ W.T + b)
    return -((y - probas).T @ SR_X), -np.sum(y - probas, axis=0)


def stat453_softmax_regression_grad_summed_bias(W, b):
    y = np.eye(3)[SR_Y]
    probas = _softmax_rows(SR_X @ W.T + b)
    return -((y - probas).T @ SR_X), np.full(3, -np.sum(y - probas))  # one sum, broadcast


CASES.append(
    RealBug(
        "STAT 453 softmax regression bias gradient summed over classes too",
        stat453_softmax_regression,
        stat453_softmax_regression_grad,
        stat453_softmax_regression_grad_summed_bias,
        [SR_W, SR_B],
        "missing gradient",
        citation="rasbt/stat453-deep-learning-ss21 issue #5 (L08/code/softmax-regression_scratch.ipynb, SoftmaxRegression1.backward)",
        names=("W", "b"),
    )
)


# =============================================================================================
# 22. Torch7 nn, CosineEmbeddingCriterion.updateGradInput ignored the margin for negative pairs:
#     a pair with y = -1 whose cosine was already below the margin, where the loss is flat,
#     still got the gradient of the cosine (torch/nn pull request #169, "zero grads below
#     margin"). L = 1/N sum_i [y_i = 1: 1 - cos_i; y_i = -1: max(0, cos_i - margin)], margin 0.
# =============================================================================================
CE_MARGIN = 0.0
CE_X1 = rng.standard_normal((8, 4))
CE_X2 = rng.standard_normal((8, 4))
CE_Y = np.array([1, -1, -1, 1, -1, -1, 1, -1])


def _cosine_and_grads(x1, x2):
    n1 = np.linalg.norm(x1, axis=1, keepdims=True)
    n2 = np.linalg.norm(x2, axis=1, keepdims=True)
    cos = np.sum(x1 * x2, axis=1, keepdims=True) / (n1 * n2)
    return cos, x2 / (n1 * n2) - cos * x1 / n1**2, x1 / (n1 * n2) - cos * x2 / n2**2


def torch_cosine_embedding(x1, x2, y):
    cos = _cosine_and_grads(x1, x2)[0][:, 0]
    return np.mean(np.where(y == 1, 1 - cos, np.maximum(0.0, cos - CE_MARGIN)))


def torch_cosine_embedding_grad(x1, x2, y):
    cos, d1, d2 = _cosine_and_grads(x1, x2)
    w = np.where((y == 1)[:, None], -1.0, np.where(cos > CE_MARGIN, 1.0, 0.0)) / len(y)
    return w * d1, w * d2


def torch_cosine_embedding_grad_no_margin(x1, x2, y):
    _, d1, d2 = _cosine_and_grads(x1, x2)
    w = np.where((y == 1)[:, None], -1.0, 1.0) / len(y)  # negatives below the margin not zeroed
    return w * d1, w * d2


CASES.append(
    RealBug(
        "Torch7 CosineEmbeddingCriterion gradient for negatives below the margin",
        torch_cosine_embedding,
        torch_cosine_embedding_grad,
        torch_cosine_embedding_grad_no_margin,
        [CE_X1, CE_X2, CE_Y],
        "wrong branch",
        citation="torch/nn pull request #169 (CosineEmbeddingCriterion.lua, updateGradInput)",
        condition="y[i] == -1 and cos(x1_i, x2_i) < margin",
        names=("x1", "x2", "y"),
    )
)


# =============================================================================================
# 23. PaddlePaddle, softmax_with_cross_entropy: rows whose label equals ignore_index contribute
#     nothing to the loss but kept a non-zero gradient (PaddlePaddle/Paddle pull request #28622,
#     "Fix gradients with ignore_idx"; its reproduction uses ignore_index = 1, a valid class).
#     Re-created as the ordinary-sample gradient softmax - onehot left on those rows, which the
#     fix zeroes. L = mean over all rows of the per-row loss, 0 for ignored rows.
# =============================================================================================
PD_IGNORE = 1
PD_LOGITS = rng.standard_normal((6, 5))
PD_LABEL = np.array([1, 3, 0, 1, 4, 2])  # rows 0 and 3 ignored


def paddle_softmax_ce(logits, label):
    per_row = -_log_softmax(logits)[np.arange(len(label)), label]
    return np.mean(np.where(label == PD_IGNORE, 0.0, per_row))


def paddle_softmax_ce_grad(logits, label):
    g = _softmax_rows(logits) - np.eye(logits.shape[1])[label]
    return np.where((label == PD_IGNORE)[:, None], 0.0, g) / len(label)


def paddle_softmax_ce_grad_ignored_rows_kept(logits, label):
    return (_softmax_rows(logits) - np.eye(logits.shape[1])[label]) / len(label)


CASES.append(
    RealBug(
        "PaddlePaddle softmax cross entropy gradient on ignored rows",
        paddle_softmax_ce,
        paddle_softmax_ce_grad,
        paddle_softmax_ce_grad_ignored_rows_kept,
        [PD_LOGITS, PD_LABEL],
        "wrong branch",
        citation="PaddlePaddle/Paddle pull request #28622 (softmax_with_cross_entropy gradient kernel)",
        condition="label[i] == ignore_index",
        names=("logits", "label"),
    )
)


# =============================================================================================
# 24. PyTorch, smooth_l1_loss with beta = 0 on the GPU: the backward kernel computed x / beta in
#     the middle branch, 0 / 0 = NaN where input == target, the kink of |x|; the lowest-norm
#     subgradient there is 0 (pytorch/pytorch issue #96813; the fix proposed in pull request #97022
#     dispatches to l1_loss). L = sum smooth_l1(input - target; beta = 0) = sum |input - target|.
# =============================================================================================
SL_BETA = 0.0
SL_INPUT = rng.standard_normal(8)
SL_TARGET = rng.standard_normal(8)
SL_TARGET[[2, 5]] = SL_INPUT[[2, 5]]  # the test: target = input.detach()


def torch_smooth_l1_beta0(inp, target):
    x = np.abs(inp - target)
    return np.sum(x)  # |x| < beta never holds for beta = 0: the linear piece x - 0.5 beta


def torch_smooth_l1_beta0_grad(inp, target):
    g = np.sign(inp - target)  # l1_loss's gradient: 0 at the kink
    return g, -g


def torch_smooth_l1_beta0_grad_cuda(inp, target):
    x = inp - target
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.where(x < -SL_BETA, -1.0, np.where(x > SL_BETA, 1.0, x / SL_BETA))
    return g, -g


CASES.append(
    RealBug(
        "PyTorch smooth L1 with beta = 0: 0 / 0 at input == target",
        torch_smooth_l1_beta0,
        torch_smooth_l1_beta0_grad,
        torch_smooth_l1_beta0_grad_cuda,
        [SL_INPUT, SL_TARGET],
        "not finite",
        citation="pytorch/pytorch issue #96813 and pull request #97022 (smooth_l1_loss_backward, CUDA)",
        notes="NaN at the kink input == target, where a subgradient (0) is expected",
        names=("input", "target"),
    )
)


# =============================================================================================
# 25. Theano, max_pool_2d gradient without cuDNN: the output gradient goes to every input equal
#     to the window's maximum (Theano/Theano issue #5404, behaviour 1; issue #5248: "Maxpool
#     gradients are back-propagated to all the inputs which are equal to the maximum in the
#     patch"); cuDNN and later Caffe give it to one of them. 2x2 windows, stride 2, ties in
#     three windows. L = sum(pool(x) * w).
# =============================================================================================
MP_X = np.array([[1.0, 3.0, 0.5, 0.5], [3.0, 2.0, 0.2, 0.5], [-1.0, 0.4, 2.0, 1.0], [0.4, 0.4, 2.0, 2.0]])
MP_W = np.array([[1.0, -0.5], [2.0, 0.7]])  # the gradient arriving at each pooled output


def _windows(x):
    return x.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(2, 2, 4)  # (out row, out col, window)


def _unwindow(g):
    return g.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)


def theano_max_pool(x):
    return np.sum(_windows(x).max(axis=2) * MP_W)


def theano_max_pool_grad_first(x):
    win = _windows(x)
    first = np.eye(4)[win.argmax(axis=2)]  # one maximum per window
    return _unwindow(first * MP_W[:, :, None])


def theano_max_pool_grad_every_tie(x):
    win = _windows(x)
    ties = (win == win.max(axis=2, keepdims=True)).astype(float)
    return _unwindow(ties * MP_W[:, :, None])


CASES.append(
    RealBug(
        "Theano max pooling gradient given to every tied maximum",
        theano_max_pool,
        theano_max_pool_grad_first,
        theano_max_pool_grad_every_tie,
        [MP_X],
        "wrong at ties",
        citation="Theano/Theano issues #5404 and #5248 (theano/tensor/signal/pool.py, MaxPoolGrad)",
        names=("x",),
    )
)


# =============================================================================================
# 26. Caffe, AbsValLayer::Backward computed bottom_diff = top_diff * top_data / bottom_data,
#     |x| / x = 0 / 0 = NaN at x = 0 (BVLC/caffe issue #1230, fixed by pull request #1326, which
#     defines the gradient at zero as zero: "the kink at zero is avoided by the gradient checker,
#     and the filler is Gaussian"). Exact zeros are common in a network: after a ReLU.
#     L = sum |x| with x the output of a ReLU.
# =============================================================================================
AV_X = np.maximum(rng.standard_normal(10), 0.0) - 0.5 * (rng.uniform(size=10) > 0.7)


def caffe_absval(x):
    return np.sum(np.abs(x))


def caffe_absval_grad(x):
    return np.sign(x)  # caffe_cpu_sign: 0 at 0


def caffe_absval_grad_divide(x):
    with np.errstate(invalid="ignore"):
        return np.abs(x) / x  # caffe_div(count, top_data, bottom_data, bottom_diff)


CASES.append(
    RealBug(
        "Caffe AbsVal backward dividing |x| by x",
        caffe_absval,
        caffe_absval_grad,
        caffe_absval_grad_divide,
        [AV_X],
        "not finite",
        citation="BVLC/caffe issue #1230, fixed by pull request #1326 (src/caffe/layers/absval_layer.cpp, Backward_cpu)",
        notes="NaN at the kink x = 0, where a subgradient (0) is expected",
        names=("x",),
    )
)


# =============================================================================================
# 27. CS231n assignment 1, svm_loss_naive: the loss adds reg * np.sum(W * W) but the gradient
#     adds reg * W, half of its derivative 2 reg W (jingtinghuang/CS231n-Spring-2017 issue #3,
#     "Missing factor of 2 in gradient of L2 regularization"). The data term is right, so the
#     notebook's first gradient check, with reg = 0, passes; its second uses reg = 5e1.
#     L(W) = 1/N sum_i sum_{j != y_i} max(0, s_ij - s_iy_i + 1) + reg sum W^2,  s = X W.
# =============================================================================================
SVM_REG = 5e1  # the notebook's second gradient check
SVM_X = rng.standard_normal((8, 5))
SVM_Y = rng.integers(0, 3, 8)
SVM_W = 0.001 * rng.standard_normal((5, 3))


def _svm_margins(W):
    scores = SVM_X @ W
    correct = scores[np.arange(len(SVM_Y)), SVM_Y][:, None]
    margins = np.maximum(0.0, scores - correct + 1.0)
    margins[np.arange(len(SVM_Y)), SVM_Y] = 0.0
    return margins


def cs231n_svm_loss(W):
    return np.sum(_svm_margins(W)) / len(SVM_Y) + SVM_REG * np.sum(W * W)


def _cs231n_svm_data_grad(W):
    mask = (_svm_margins(W) > 0).astype(float)
    mask[np.arange(len(SVM_Y)), SVM_Y] = -mask.sum(axis=1)
    return SVM_X.T @ mask / len(SVM_Y)


def cs231n_svm_grad(W):
    return _cs231n_svm_data_grad(W) + 2 * SVM_REG * W


def cs231n_svm_grad_half_reg(W):
    return _cs231n_svm_data_grad(W) + SVM_REG * W  # dW += reg * W


CASES.append(
    RealBug(
        "CS231n SVM gradient with half the regularisation term",
        cs231n_svm_loss,
        cs231n_svm_grad,
        cs231n_svm_grad_half_reg,
        [SVM_W],
        "wrong term",
        citation="jingtinghuang/CS231n-Spring-2017 issue #3 (assignment1/cs231n/classifiers/linear_svm.py)",
        names=("W",),
    )
)
