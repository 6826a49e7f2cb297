r"""Optimisers with PyTorch's exact update rules, and gradient-norm clipping.

An optimiser holds a list of parameters and, on :meth:`Optimizer.step`, reads each one's
gradient ``p.grad.data`` and updates ``p.data`` **in place, on raw arrays**: the update is not
part of any model, so recording it in the graph would only cost memory. Parameters whose
``grad`` is None (unused in this step, or frozen) are skipped, and their state is left as is.

The rules, with :math:`g` the gradient, :math:`\theta` the parameter and :math:`t` the step
count (from 1), follow ``torch.optim`` line by line:

- **SGD**: :math:`g \mathrel{+}= \lambda\theta`; :math:`b = g` at the first step, else
  :math:`b = \mu b + (1 - \tau) g`; then :math:`g = g + \mu b` (Nesterov) or :math:`g = b`;
  :math:`\theta \mathrel{-}= \eta g`.
- **Adam**: :math:`g \mathrel{+}= \lambda\theta` (L2 regularisation, folded into the gradient and
  hence rescaled by the adaptive denominator); :math:`m = \beta_1 m + (1-\beta_1) g`,
  :math:`v = \beta_2 v + (1-\beta_2) g^2`;
  :math:`\theta \mathrel{-}= \frac{\eta}{1-\beta_1^t} \, m \,/\, (\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon)`.
- **AdamW**: as Adam, but the decay is *decoupled* (Loshchilov & Hutter): first
  :math:`\theta \mathrel{*}= 1 - \eta\lambda`, and the gradient is left alone.

Note where :math:`\epsilon` sits: added to :math:`\sqrt{\hat v}`, after the bias correction of
:math:`v` (not inside the square root), exactly as PyTorch, so the numbers match to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from . import backend
from .autograd import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "clip_grad_norm_"]


def _parameter_list(params: Any, owner: str) -> list[Tensor]:
    if isinstance(params, Tensor):
        raise TypeError(f"{owner}: params must be an iterable of Tensors, got a single Tensor; wrap it in a list")
    if not isinstance(params, Iterable):
        raise TypeError(
            f"{owner}: params must be an iterable of Tensors (e.g. model.parameters()), got {type(params).__name__}"
        )
    result: list[Tensor] = []
    seen: set[int] = set()
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{owner}: params[{i}] must be a Tensor, got {type(p).__name__}")
        if not p.requires_grad:
            raise ValueError(f"{owner}: params[{i}] does not require grad, so it would never be updated")
        if id(p) in seen:
            # Listed twice, it would be updated twice per step.
            raise ValueError(f"{owner}: params[{i}] appears more than once in params")
        seen.add(id(p))
        result.append(p)
    if not result:
        raise ValueError(f"{owner}: got an empty parameter list")
    return result


def _check_range(
    value: Any, name: str, owner: str, low: float = 0.0, high: float = math.inf, high_open: bool = False
) -> float:
    """``value`` as a float in ``[low, high]`` (``[low, high)`` if ``high_open``), else a clear error."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    if value < low or value > high or (high_open and value == high):
        interval = f"[{low}, {high})" if high_open else f"[{low}, {high}]"
        raise ValueError(f"{owner}: {name} must be in {interval}, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: a parameter list, per-parameter state, and the step loop.

    Subclasses set their hyperparameters as attributes (listed in ``_hyperparameters``; they
    may be changed between steps, e.g. ``opt.lr = 1e-4`` for a schedule) and implement
    :meth:`_update`.

    Parameters
    ----------
    params : iterable of Tensor
        The parameters to optimise (each requiring grad, each once).

    Attributes
    ----------
    params : list of Tensor
    state : dict of int to dict
        Per-parameter state (momentum buffers, moment estimates), keyed by position in ``params``.
    """

    _hyperparameters: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor]) -> None:
        self.params = _parameter_list(params, type(self).__name__)
        self.state: dict[int, dict[str, Any]] = {}

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (None, as PyTorch's default ``set_to_none=True``)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad.data
            if g.shape != p.shape:
                raise ValueError(
                    f"{type(self).__name__}: params[{i}] has shape {p.shape} but its grad has shape {g.shape}"
                )
            self._update(p, g, self.state.setdefault(i, {}))

    def _update(self, p: Tensor, g: Any, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters and per-parameter state, arrays copied to NumPy on the host."""
        state = {
            i: {k: backend.to_numpy(v).copy() if hasattr(v, "shape") else v for k, v in s.items()}
            for i, s in self.state.items()
        }
        return {"hyperparameters": {k: getattr(self, k) for k in self._hyperparameters}, "state": state}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (for the same parameter list)."""
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"hyperparameters", "state"}:
            raise ValueError("load_state_dict: expected a mapping with keys 'hyperparameters' and 'state'")
        hyper = dict(state_dict["hyperparameters"])
        if set(hyper) != set(self._hyperparameters):
            raise ValueError(
                f"load_state_dict: hyperparameters {sorted(hyper)} do not match {type(self).__name__}'s "
                f"{sorted(self._hyperparameters)}"
            )
        restored: dict[int, dict[str, Any]] = {}
        for i, s in state_dict["state"].items():
            if not isinstance(i, int) or not 0 <= i < len(self.params):
                raise ValueError(
                    f"load_state_dict: state for parameter {i!r}, but there are {len(self.params)} parameters"
                )
            entry = {}
            for k, v in s.items():
                if hasattr(v, "shape") and v.shape != ():
                    if tuple(v.shape) != self.params[i].shape:
                        raise ValueError(
                            f"load_state_dict: state {k!r} of parameter {i} has shape {tuple(v.shape)}, "
                            f"the parameter has {self.params[i].shape}"
                        )
                    xp = backend.get_array_module(self.params[i].data)
                    v = xp.array(backend.to_numpy(v), dtype=self.params[i].dtype)  # a copy
                entry[k] = v
            restored[i] = entry
        for k, v in hyper.items():
            setattr(self, k, v)
        self.state = restored


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and L2 decay.

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
        Learning rate :math:`\\eta \\ge 0`.
    momentum : float
        :math:`\\mu \\ge 0`; 0 disables the momentum buffer.
    dampening : float
        :math:`\\tau`: the new gradient enters the buffer with weight :math:`1 - \\tau`.
    nesterov : bool
        Look-ahead momentum; needs ``momentum > 0`` and ``dampening == 0`` (as PyTorch).
    weight_decay : float
        :math:`\\lambda \\ge 0`, added to the gradient as :math:`\\lambda\\theta`.
    """

    _hyperparameters = ("lr", "momentum", "dampening", "nesterov", "weight_decay")

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        self.lr = _check_range(lr, "lr", "SGD")
        self.momentum = _check_range(momentum, "momentum", "SGD")
        self.dampening = _check_range(dampening, "dampening", "SGD", high=1.0)
        self.weight_decay = _check_range(weight_decay, "weight_decay", "SGD")
        if nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError(
                "SGD: nesterov=True requires momentum > 0 and dampening == 0, "
                f"got momentum={momentum}, dampening={dampening}"
            )
        self.nesterov = bool(nesterov)
        super().__init__(params)

    def _update(self, p: Tensor, g: Any, state: dict[str, Any]) -> None:
        # Never write into g: the engine may hand the same gradient array to several leaves.
        if self.weight_decay != 0:
            g = g + self.weight_decay * p.data
        if self.momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = g.copy()  # the first step starts the buffer at g, undamped (as PyTorch)
            else:
                buf *= self.momentum
                buf += (1.0 - self.dampening) * g
            state["momentum_buffer"] = buf
            g = g + self.momentum * buf if self.nesterov else buf
        p.data -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's bias correction and L2 weight decay.

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
        :math:`\\eta \\ge 0`.
    betas : (float, float)
        Decay rates of the first and second moment estimates, each in [0, 1).
    eps : float
        :math:`\\epsilon \\ge 0`, added to :math:`\\sqrt{\\hat v}`.
    weight_decay : float
        :math:`\\lambda \\ge 0`, added to the gradient as :math:`\\lambda\\theta` (L2); see
        :class:`AdamW` for the decoupled form.

    State per parameter: ``step`` (int), ``exp_avg`` (m), ``exp_avg_sq`` (v).
    """

    _hyperparameters = ("lr", "betas", "eps", "weight_decay")
    _decoupled = False

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        name = type(self).__name__
        self.lr = _check_range(lr, "lr", name)
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            _check_range(betas[0], "betas[0]", name, high=1.0, high_open=True),
            _check_range(betas[1], "betas[1]", name, high=1.0, high_open=True),
        )
        self.eps = _check_range(eps, "eps", name)
        self.weight_decay = _check_range(weight_decay, "weight_decay", name)
        super().__init__(params)

    def _update(self, p: Tensor, g: Any, state: dict[str, Any]) -> None:
        xp = backend.get_array_module(p.data)
        beta1, beta2 = self.betas
        if not state:
            state.update(step=0, exp_avg=xp.zeros_like(p.data), exp_avg_sq=xp.zeros_like(p.data))
        state["step"] += 1
        t = state["step"]
        if self._decoupled:
            p.data *= 1.0 - self.lr * self.weight_decay
        elif self.weight_decay != 0:
            g = g + self.weight_decay * p.data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * (g * g)
        step_size = self.lr / (1.0 - beta1**t)
        denom = xp.sqrt(v) / math.sqrt(1.0 - beta2**t) + self.eps
        p.data -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    Each step first shrinks the parameter, :math:`\\theta \\mathrel{*}= 1 - \\eta\\lambda`, then
    applies the Adam update to the *undecayed* gradient. Unlike L2 in :class:`Adam`, the decay
    is not divided by :math:`\\sqrt{\\hat v}`, so every weight decays at the same rate.
    Arguments as :class:`Adam`, with ``weight_decay=1e-2`` by default.
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def clip_grad_norm_(
    params: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    r"""Rescale the gradients so that their joint norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: the total norm is the ``norm_type``-norm of all the
    gradients concatenated, :math:`\|g\| = (\sum_i \|g_i\|_p^p)^{1/p}` (the max for ``inf``), and
    every gradient is multiplied by :math:`\min(1, \mathrm{max\_norm} / (\|g\| + 10^{-6}))`; the
    :math:`10^{-6}` avoids dividing by zero. Parameters without a gradient are ignored.

    Parameters
    ----------
    params : Tensor or iterable of Tensor
    max_norm : float
        Non-negative.
    norm_type : float
        p > 0, or ``math.inf``.
    error_if_nonfinite : bool
        Raise if the total norm is nan or infinite (else the gradients become nan, as PyTorch).

    Returns
    -------
    float
        The total norm *before* clipping.

    Notes
    -----
    Each clipped gradient is a new array assigned to ``p.grad`` rather than scaled in place:
    the engine may give several leaves the same gradient array, which in-place scaling would
    shrink more than once.
    """
    params = [params] if isinstance(params, Tensor) else list(params)
    max_norm = _check_range(max_norm, "max_norm", "clip_grad_norm_")
    norm_type = _check_range(norm_type, "norm_type", "clip_grad_norm_")
    if norm_type == 0:
        raise ValueError("clip_grad_norm_: norm_type must be positive (or math.inf)")
    unique: dict[int, Tensor] = {}
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"clip_grad_norm_: params[{i}] must be a Tensor, got {type(p).__name__}")
        if p.grad is not None:
            unique.setdefault(id(p), p)
    with_grad = list(unique.values())
    if not with_grad:
        return 0.0
    xp = backend.get_array_module(with_grad[0].grad.data)
    # Norm of the per-parameter norms = norm of everything concatenated, without the copy.
    norms = xp.stack([xp.linalg.norm(p.grad.data.reshape(-1), ord=norm_type) for p in with_grad])
    total = float(xp.linalg.norm(norms, ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} is {total}; the gradients cannot be clipped"
        )
    scale = max_norm / (total + 1e-6)
    if scale < 1.0 or math.isnan(scale):
        for p in with_grad:
            p.grad = Tensor(p.grad.data * scale)
    return total
