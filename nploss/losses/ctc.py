r"""Connectionist temporal classification (Graves, Fernández, Gomez & Schmidhuber 2006).

A network emits, at each of :math:`T` frames, log-probabilities over :math:`C` classes, one of
them the *blank*. An *alignment* is a sequence of :math:`T` classes; collapsing it (merge
repeats, then drop blanks) gives a label sequence. CTC is the negative log of the probability
of the target sequence :math:`l = (l_1, \dots, l_L)` summed over every alignment that collapses
to it:

.. math::  \ell = -\log p(l \mid x), \qquad p(l \mid x) = \sum_{\pi \in \mathcal{B}^{-1}(l)}
           \prod_{t=1}^{T} y_t^{\pi_t}, \qquad y_t^k = e^{\text{log\_probs}[t, k]}

**The lattice.** Interleave blanks, :math:`l' = (b, l_1, b, l_2, \dots, l_L, b)` of length
:math:`2L + 1`. An alignment is a path through :math:`l'` that at each frame stays, moves one
step, or skips a blank, :math:`s - 2 \to s`, when :math:`l'_s \ne b` and
:math:`l'_s \ne l'_{s-2}` (between two equal labels the blank is compulsory: "aa" collapses to
"a"). Forward and backward variables, in log space:

.. math::  \alpha_t(s) = \log y_t^{l'_s} + \operatorname{logsumexp}\bigl(\alpha_{t-1}(s),\,
           \alpha_{t-1}(s-1),\, \alpha_{t-1}(s-2)\,[\text{skip}]\bigr),

.. math::  \beta_t(s) = \log y_t^{l'_s} + \operatorname{logsumexp}\bigl(\beta_{t+1}(s),\,
           \beta_{t+1}(s+1),\, \beta_{t+1}(s+2)\,[\text{skip}]\bigr),

started at :math:`\alpha_1(1) = \log y_1^b`, :math:`\alpha_1(2) = \log y_1^{l_1}` and
:math:`\beta_T(2L+1) = \log y_T^b`, :math:`\beta_T(2L) = \log y_T^{l_L}`; then
:math:`\log p = \operatorname{logsumexp}(\alpha_T(2L+1), \alpha_T(2L))` (one-based :math:`s`).
Both variables include the frame's own :math:`y_t^{l'_s}`, so the occupation probability of
state :math:`s` at frame :math:`t` is
:math:`\gamma_t(s) = \exp(\alpha_t(s) + \beta_t(s) - \log y_t^{l'_s} - \log p)` and

.. math::  \frac{\partial \ell}{\partial \log y_t^k} = -\sum_{s:\, l'_s = k} \gamma_t(s).

**Log zero.** Unreachable lattice states hold the finite :math:`-10^{30}` rather than
:math:`-\infty`: the composite graph would otherwise form :math:`-\infty - (-\infty)` (NaN) in
the derivative of its log-sum-exps. Any real path has log-probability far above it, and
:math:`-10^{30}` plus anything of ordinary size rounds back to :math:`-10^{30}`, in float32 too.
Whether the target can be aligned at all (:math:`T \ge L + \text{repeats}`) is decided from the
integers, exactly; an impossible one gets :math:`+\infty` (or 0 with ``zero_infinity``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..autograd import as_data
from ..backend import get_array_module
from ._apply import apply_loss
from ._params import flag, integer
from ._spec import Arg, LossSpec, OnInputs, register
from ._validate import labels as check_labels

__all__ = ["ctc"]

LOG_ZERO = -1e30


@dataclass(frozen=True)
class _Lattice:
    """The extended label sequences of a batch: constant arrays, never differentiated."""

    ext: Any  # (N, W) class of each lattice state, W = 2 S + 1 (padding states: blank)
    skip: Any  # (N, W) whether s - 2 -> s is allowed
    ends: Any  # (N, 2) the two final states 2L and 2L - 1 (zero-based)
    end_used: Any  # (N, 2) whether each final state exists (2L - 1 needs L >= 1)
    input_lengths: Any  # (N,)
    feasible: Any  # (N,) T_n >= L_n + repeats_n


def _lattice(targets: Any, input_lengths: Any, target_lengths: Any, blank: int) -> _Lattice:
    labels, frames, lengths = as_data(targets), as_data(input_lengths), as_data(target_lengths)
    mod = get_array_module(labels)
    n, s = labels.shape
    valid = mod.arange(s) < lengths[:, None]
    labels = mod.where(valid, labels, blank)  # padding can hold anything; it is never read
    ext = mod.full((n, 2 * s + 1), blank, dtype=labels.dtype)
    ext[:, 1::2] = labels
    skip = mod.zeros(ext.shape, dtype=bool)
    skip[:, 3::2] = labels[:, 1:] != labels[:, :-1]
    repeats = ((labels[:, 1:] == labels[:, :-1]) & valid[:, 1:]).sum(axis=1)
    ends = mod.stack([2 * lengths, mod.maximum(2 * lengths - 1, 0)], axis=1)
    end_used = mod.stack([mod.ones(n, dtype=bool), lengths > 0], axis=1)
    return _Lattice(ext, skip, ends, end_used, frames, frames >= lengths + repeats)


def _log_zeros(like: Any, n: int, k: int) -> Any:
    data = as_data(like)
    return get_array_module(data).full((n, k), LOG_ZERO, dtype=data.dtype)


def _logsumexp3(xp: Any, a: Any, b: Any, c: Any) -> Any:
    # log(e^a + e^b + e^c) as two pairwise logaddexps, each stable on its own (no stacking of
    # the three into one array for a logsumexp)
    return xp.logaddexp(xp.logaddexp(a, b), c)


def _emissions(xp: Any, log_probs: Any, lat: _Lattice) -> Any:
    r""":math:`\log y_t^{l'_s}`, shape (T, N, W)."""
    return xp.take_along_axis(log_probs, lat.ext[None], axis=2)


def _alphas(xp: Any, y: Any, lat: _Lattice) -> list[Any]:
    """The forward variables of every frame; a sample's stay frozen after its last frame."""
    n, w = lat.ext.shape
    one, two = _log_zeros(y, n, 1), _log_zeros(y, n, min(2, w))  # log zero shifted in from s < 0
    states = get_array_module(lat.ext).arange(w)
    alpha = xp.where(states < 2, y[0], LOG_ZERO)
    alphas = [alpha]
    for t in range(1, y.shape[0]):
        step = xp.concatenate([one, alpha[:, : w - 1]], axis=1)  # from s - 1
        jump = xp.where(lat.skip, xp.concatenate([two, alpha[:, : w - 2]], axis=1), LOG_ZERO)  # from s - 2
        new = y[t] + _logsumexp3(xp, alpha, step, jump)
        alpha = xp.where(t < lat.input_lengths[:, None], new, alpha)
        alphas.append(alpha)
    return alphas


def _betas(xp: Any, y: Any, lat: _Lattice) -> list[Any]:
    """The backward variables of every frame; log zero at and after a sample's end."""
    mod = get_array_module(lat.ext)
    n, w = lat.ext.shape
    one, two = _log_zeros(y, n, 1), _log_zeros(y, n, min(2, w))  # log zero shifted in from s > W
    states = mod.arange(w)
    final = (states == lat.ends[:, :1]) | ((states == lat.ends[:, 1:]) & lat.end_used[:, 1:])
    skip_ahead = mod.concatenate([lat.skip[:, 2:], mod.zeros((n, min(2, w)), dtype=bool)], axis=1)  # s -> s + 2
    last = lat.input_lengths[:, None] - 1
    time = y.shape[0]
    beta = xp.where(final & (last == time - 1), y[time - 1], LOG_ZERO)
    betas = [beta]
    for t in range(time - 2, -1, -1):
        step = xp.concatenate([beta[:, 1:], one], axis=1)  # from s + 1
        jump = xp.where(skip_ahead, xp.concatenate([beta[:, 2:], two], axis=1), LOG_ZERO)  # from s + 2
        back = y[t] + _logsumexp3(xp, beta, step, jump)
        beta = xp.where(last == t, xp.where(final, y[t], LOG_ZERO), xp.where(t < last, back, LOG_ZERO))
        betas.append(beta)
    return betas[::-1]


def _log_likelihood(xp: Any, alpha_last: Any, lat: _Lattice) -> Any:
    r""":math:`\log p(l|x)` per sample from the final forward variables (0 for an empty input)."""
    ends = xp.where(lat.end_used, xp.take_along_axis(alpha_last, lat.ends, axis=1), LOG_ZERO)
    return xp.where(lat.input_lengths > 0, xp.logaddexp(ends[:, 0], ends[:, 1]), 0.0)


def _ctc_forward(xp: Any, log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any, *, blank: int, zero_infinity: bool) -> Any:
    lat = _lattice(targets, input_lengths, target_lengths, blank)
    alpha_last = _alphas(xp, _emissions(xp, log_probs, lat), lat)[-1]
    # an impossible alignment has probability exactly 0, decided from the lengths, not from the
    # floating log zero
    return xp.where(lat.feasible, -_log_likelihood(xp, alpha_last, lat), 0.0 if zero_infinity else math.inf)


def _ctc_vjp(xp: Any, g: Any, log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any, *, blank: int, zero_infinity: bool) -> tuple[Any]:
    lat = _lattice(targets, input_lengths, target_lengths, blank)
    y = _emissions(xp, log_probs, lat)
    alphas = _alphas(xp, y, lat)
    log_p = xp.where(lat.feasible, _log_likelihood(xp, alphas[-1], lat), 0.0)  # 0: keeps exp finite
    log_gamma = xp.stack(alphas) + xp.stack(_betas(xp, y, lat)) - y - log_p[None, :, None]
    gamma = xp.exp(log_gamma)  # (T, N, W) occupation of each lattice state
    # sum the states that emit the same class: (N, T, W) @ (N, W, C)
    mod = get_array_module(lat.ext)
    one_hot = (lat.ext[:, :, None] == mod.arange(log_probs.shape[2])).astype(as_data(log_probs).dtype)
    per_class = xp.transpose(xp.matmul(xp.transpose(gamma, (1, 0, 2)), one_hot), (1, 0, 2))
    grad = per_class * xp.where(lat.feasible, -g, 0.0)[None, :, None]
    if not zero_infinity:
        # the derivative of a loss that is +inf is undefined: NaN on the sample's frames, as
        # PyTorch (finite differences give NaN too)
        frames = mod.arange(log_probs.shape[0])[:, None] < lat.input_lengths
        undefined = (frames & ~lat.feasible)[:, :, None]
        grad = xp.where(undefined, math.nan, grad)
    return (grad,)


def _ctc_weights(xp: Any, reduction: str, log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any, **_: Any) -> Any:
    """PyTorch's ``'mean'``: the mean over the batch of loss_n / max(L_n, 1)."""
    lengths = as_data(target_lengths)
    mod = get_array_module(lengths)
    return (1.0 / (len(lengths) * mod.maximum(lengths, 1))).astype(as_data(log_probs).dtype)


def _integers(name: str, x: Any, shape: tuple[int, ...], lo: int, hi: int, bound: str) -> None:
    if x.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {x.dtype}")
    if tuple(x.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(x.shape)}")
    if x.size and (bool((x < lo).any()) or bool((x > hi).any())):
        raise ValueError(f"{name} must be in [{lo}, {hi}] ({bound}), got values from {int(x.min())} to {int(x.max())}")


def _check_scalars(log_probs: Any, blank: Any, zero_infinity: Any) -> None:
    if log_probs.ndim != 3:
        raise ValueError(f"log_probs must have shape (T, N, C), got shape {tuple(log_probs.shape)}")
    if log_probs.shape[0] < 1:
        raise ValueError("log_probs must have at least one frame (T >= 1), got T = 0")
    classes = log_probs.shape[2]
    if classes < 1:
        raise ValueError("log_probs must have at least one class (the blank) on its last axis, got C = 0")
    if not 0 <= integer("blank", blank) < classes:
        raise ValueError(f"blank must be a class index in [0, {classes}), got {blank}")
    flag("zero_infinity", zero_infinity)


def _check_ctc(log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any, *, blank: int, zero_infinity: bool) -> None:
    _check_scalars(log_probs, blank, zero_infinity)
    time, n, classes = log_probs.shape
    if n < 1:
        raise ValueError("log_probs must hold at least one sequence (N >= 1), as PyTorch requires, got N = 0")
    if targets.ndim != 2 or targets.shape[0] != n:
        raise ValueError(f"targets must have shape (N, S) = ({n}, S) (padded), got {tuple(targets.shape)}")
    _integers("input_lengths", input_lengths, (n,), 0, time, "at most T frames")
    _integers("target_lengths", target_lengths, (n,), 0, targets.shape[1], "at most S, the width of targets")
    used = targets[get_array_module(targets).arange(targets.shape[1]) < target_lengths[:, None]]
    check_labels("targets", used, classes)
    if used.size and bool((used == blank).any()):
        raise ValueError(f"targets must not contain the blank class {blank} (within target_lengths)")


def _sample(rng: Any, sizes: dict[str, int], blank: int = 0, scale: float = 1.5) -> list[Any]:
    """A batch with a repeated label (a compulsory blank), an empty target, and one sample at
    the shortest input that can hold its target; log-softmax outputs as log_probs."""
    import numpy as np

    from ..numerics import logsumexp

    time, n, classes, width = sizes["T"], sizes["N"], sizes["C"], sizes["S"]
    lengths = rng.integers(1, width + 1, n)
    lengths[0] = width
    if n > 1:
        lengths[-1] = 0
    non_blank = np.array([k for k in range(classes) if k != blank])
    targets = non_blank[rng.integers(0, len(non_blank), (n, width))]
    if width > 1:
        targets[0, 1] = targets[0, 0]
        if n > 2 and len(non_blank) > 1:  # two different labels: the blank may be skipped
            targets[1, :2] = non_blank[:2]
            lengths[1] = max(lengths[1], 2)
    targets = np.where(np.arange(width) < lengths[:, None], targets, blank)
    repeats = ((targets[:, 1:] == targets[:, :-1]) & (np.arange(1, width) < lengths[:, None])).sum(axis=1)
    shortest = np.maximum(lengths + repeats, 1)
    frames = rng.integers(shortest, time + 1)
    frames[0] = shortest[0]
    logits = scale * rng.standard_normal((time, n, classes))
    log_probs = logits - logsumexp(np, logits, axis=2, keepdims=True)
    return [log_probs, targets, frames, lengths]


def _edges() -> dict[str, Any]:
    import numpy as np

    def confident(rng: Any) -> list[Any]:
        # log-softmax of logits of +-1e4: entries of 0 and about -2e4
        log_probs, targets, frames, lengths = _sample(rng, {"T": 6, "N": 3, "C": 4, "S": 2}, scale=1e4)
        return [log_probs, targets, frames, lengths]

    def empty(rng: Any) -> list[Any]:
        log_probs = _sample(rng, {"T": 4, "N": 2, "C": 3, "S": 1})[0]
        return [log_probs, np.zeros((2, 1), dtype=np.int64), np.array([0, 4]), np.array([0, 0])]

    def tight(rng: Any) -> list[Any]:
        # "1 1 2 2" needs 6 frames (blanks between the repeats): exactly one alignment fits
        log_probs = _sample(rng, {"T": 6, "N": 1, "C": 3, "S": 1})[0]
        return [log_probs, np.array([[1, 1, 2, 2]]), np.array([6]), np.array([4])]

    return {"log-softmax of logits of +-1e4": confident, "empty inputs and targets": empty, "one alignment only": tight}


CTC = register(
    LossSpec(
        name="ctc",
        grid={"blank": (0, OnInputs(2, lambda rng, sizes: _sample(rng, sizes, blank=2)))},
        unreduced=("N",),
        family="classification",
        args=(
            Arg("log_probs", "log_simplex", ("T", "N", "C")),
            Arg("targets", "label", ("N", "S"), differentiable=False),
            Arg("input_lengths", "count", ("N",), differentiable=False),
            Arg("target_lengths", "count", ("N",), differentiable=False),
        ),
        forward=_ctc_forward,
        vjp=_ctc_vjp,
        params={"blank": 0, "zero_infinity": False},
        reduction_weights=_ctc_weights,
        check=_check_ctc,
        sampler=_sample,
        sizes={"T": 5, "N": 3, "C": 3, "S": 2},  # small: the second-order audit differentiates a T-step loop
        edge_cases=_edges(),
        formula=r"\ell = -\log \sum_{\pi \in \mathcal{B}^{-1}(l)} \prod_t y_t^{\pi_t}, \quad \partial \ell / \partial \log y_t^k = -\sum_{s: l'_s = k} \gamma_t(s)",
        reference="Graves et al. 2006; torch.nn.functional.ctc_loss",
        torch="ctc_loss",
    )
)




def _as_padded(log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any, blank: Any) -> tuple[Any, Any, Any]:
    """Targets as a padded (N, S) array (from PyTorch's concatenated 1-D form too), padding set
    to the blank so that any padding value is accepted."""
    data = as_data(log_probs)
    mod = get_array_module(data)
    targets, input_lengths, target_lengths = (mod.asarray(as_data(x)) for x in (targets, input_lengths, target_lengths))
    if target_lengths.ndim != 1 or target_lengths.dtype.kind not in "iu":
        return targets, input_lengths, target_lengths  # refused, with its message, by _check_ctc
    if targets.ndim == 1:
        if targets.dtype.kind not in "iu":
            raise TypeError(f"targets must hold integer class labels, got dtype {targets.dtype}")
        if bool((target_lengths < 0).any()) or int(target_lengths.sum()) != len(targets):
            raise ValueError(
                f"concatenated 1-D targets must have sum(target_lengths) = {int(target_lengths.sum())} entries, got {len(targets)}"
            )
        width = int(target_lengths.max(initial=0))
        starts = mod.concatenate([mod.zeros(1, dtype=target_lengths.dtype), mod.cumsum(target_lengths)[:-1]])
        offsets = mod.arange(width)
        inside = offsets < target_lengths[:, None]
        index = mod.where(inside, starts[:, None] + offsets, 0)
        return mod.where(inside, targets[index], blank), input_lengths, target_lengths
    if targets.ndim == 2 and targets.dtype.kind in "iu" and targets.shape[0] == len(target_lengths):
        inside = mod.arange(targets.shape[1]) < target_lengths[:, None]
        targets = mod.where(inside, targets, blank)
    return targets, input_lengths, target_lengths


def ctc(
    log_probs: Any,
    targets: Any,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Any:
    r"""Connectionist temporal classification loss, as ``torch.nn.functional.ctc_loss``.

    .. math::  \ell_n = -\log \sum_{\pi \in \mathcal{B}^{-1}(l_n)} \prod_{t=1}^{T_n} y_{t,n}^{\pi_t},
               \qquad \frac{\partial \ell_n}{\partial \log y_{t,n}^k} =
               -\sum_{s:\, l'_s = k} \gamma_{t,n}(s)

    computed by the forward-backward recursions in log space (see the module docstring for
    the lattice, :math:`\alpha`, :math:`\beta` and the occupation probabilities :math:`\gamma`).

    Parameters
    ----------
    log_probs : array or Tensor, shape (T, N, C)
        Log-probabilities per frame, normally ``log_softmax`` outputs. Must be finite.
    targets : integer array, shape (N, S) padded, or 1-D concatenated
        The label sequences, without blanks. Padded: row n holds its ``target_lengths[n]``
        labels first, then anything. Concatenated (PyTorch's other form): the sequences one after
        the other, ``sum(target_lengths)`` entries.
    input_lengths : integer array, shape (N,)
        Frames used per sample, :math:`0 \le T_n \le T`; frames beyond are ignored (gradient 0).
    target_lengths : integer array, shape (N,)
        :math:`0 \le L_n \le S`.
    blank : int
        The blank class, in [0, C).
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` is PyTorch's: the mean over the batch of :math:`\ell_n / \max(L_n, 1)`.
    zero_infinity : bool
        Replace infinite losses (and their gradients) by 0.

    Returns
    -------
    The loss, shape (N,) for ``'none'``, else a scalar.

    Notes
    -----
    **Impossible targets.** A target needs :math:`T_n \ge L_n + r_n` frames, :math:`r_n` the
    number of adjacent repeats (each needs a blank between). With fewer, the probability is 0
    and the loss :math:`+\infty`, whose gradient is NaN on the sample's frames (PyTorch's too);
    ``zero_infinity=True`` gives 0 and a zero gradient. The composite graph (``composite()``)
    gives 0 rather than NaN for such a sample, since the inf is a constant there.

    **Gradient convention.** The analytic gradient is the derivative of :math:`\ell` with
    respect to ``log_probs`` as free inputs, which finite differences confirm. PyTorch's
    ``ctc_loss`` backward returns instead :math:`y_t^k - \sum_{s: l'_s = k} \gamma_t(s)`, the
    gradient *with respect to the logits* under the assumption that ``log_probs`` is a
    ``log_softmax`` output: it adds :math:`e^{\log y}` on the sample's frames. Through a
    ``log_softmax`` the two agree exactly (the log-softmax backward removes the row sum, and
    :math:`\sum_k \gamma_t = 1`), so gradients with respect to the logits match PyTorch's; with
    respect to ``log_probs`` themselves they differ by ``exp(log_probs)``.

    **Other differences.** PyTorch silently computes something for targets that contain the
    blank; nploss refuses them. Non-finite ``log_probs`` are refused (PyTorch accepts
    :math:`-\infty`). With :math:`T_n = 0` and :math:`L_n = 0` the loss is 0, as PyTorch.

    Raises
    ------
    ValueError
        ``log_probs`` not 3-D, positive or not finite; ``targets`` of the wrong shape, labels
        outside [0, C) or equal to ``blank``; lengths of the wrong shape or out of range;
        ``blank`` out of range; an unknown ``reduction``.
    TypeError
        Non-integer targets or lengths; ``blank`` not an integer; ``zero_infinity`` not a bool.

    Examples
    --------
    Two frames, uniform over {blank, a}: the target "a" is reached by "a a", "a -" and "- a",
    so :math:`p = 3/4`.

    >>> import numpy as np
    >>> log_probs = np.log(np.full((2, 1, 2), 0.5))
    >>> round(float(ctc(log_probs, np.array([[1]]), np.array([2]), np.array([1]))), 10)
    0.2876820725
    """
    _check_scalars(as_data(log_probs) if hasattr(log_probs, "shape") else get_array_module().asarray(log_probs), blank, zero_infinity)
    targets, input_lengths, target_lengths = _as_padded(log_probs, targets, input_lengths, target_lengths, blank)
    return apply_loss(
        CTC, log_probs, targets, input_lengths, target_lengths,
        reduction=reduction, blank=int(blank), zero_infinity=bool(zero_infinity),
    )  # fmt: skip


# ``nploss.losses`` star-imports this module, which rebinds the package attribute ``ctc`` from
# the module to this function, and then reads ``ctc.__all__``: the function carries it too.
ctc.__all__ = __all__  # type: ignore[attr-defined]
