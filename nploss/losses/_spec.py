r"""What a loss is, for the machinery: its inputs, its formula's two functions, its metadata.

Every loss supplies two plain functions written against an array namespace ``xp``:

- ``forward(xp, *inputs, **params)`` returns the *unreduced* loss (one value per sample or per
  element), numerically stable;
- ``vjp(xp, g, *inputs, **params)`` returns, for the unreduced cotangent ``g``, one gradient per
  differentiable input: the analytic derivative a student would derive, in array code.

With ``xp`` a plain array module (wrapped by :class:`nploss.numerics.ArrayNamespace`) they
compute values and gradients; with ``xp = nploss.autograd`` on Tensors, ``forward`` builds the
composite graph (the engine derives its own gradient) and ``vjp`` becomes differentiable. A
:class:`LossSpec` bundles them with the metadata the validation, the audit and the docs use.
"""

from __future__ import annotations

import inspect
import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Sizes of the symbolic axes when the audit samples inputs.
SIZES = {"N": 5, "C": 4, "D": 3, "H": 8, "W": 8, "T": 8, "S": 3}


def _labels(rng: np.random.Generator, shape: tuple[int, ...], classes: int) -> np.ndarray:
    return rng.integers(0, classes, shape)


# Each domain: a description (for errors and docs) and a sampler(rng, shape, classes).
DOMAINS: dict[str, tuple[str, Callable[..., np.ndarray]]] = {
    "real": ("real numbers", lambda rng, s, c: rng.standard_normal(s)),
    "logits": ("real-valued scores (logits)", lambda rng, s, c: 2.0 * rng.standard_normal(s)),
    "prob": ("probabilities in [0, 1]", lambda rng, s, c: rng.uniform(0.05, 0.95, s)),
    "simplex": ("rows of probabilities summing to 1", lambda rng, s, c: rng.dirichlet(np.ones(s[-1]), s[:-1])),
    "log_simplex": ("rows of log-probabilities", lambda rng, s, c: np.log(rng.dirichlet(np.ones(s[-1]), s[:-1]))),
    "label": ("integer class labels in [0, C)", lambda rng, s, c: _labels(rng, s, c)),
    "sign": ("targets in {-1, +1}", lambda rng, s, c: rng.choice([-1.0, 1.0], s)),
    "binary": ("targets in [0, 1]", lambda rng, s, c: rng.integers(0, 2, s).astype(np.float64)),
    "flag": ("flags: 0 or 1, or booleans", lambda rng, s, c: rng.integers(0, 2, s).astype(np.float64)),
    "positive": ("positive numbers", lambda rng, s, c: rng.uniform(0.2, 2.0, s)),
    "nonnegative": ("non-negative numbers", lambda rng, s, c: rng.poisson(2.0, s).astype(np.float64)),
    "count": ("non-negative integers", lambda rng, s, c: rng.poisson(2.0, s)),
    "weight": ("non-negative weights", lambda rng, s, c: rng.uniform(0.5, 2.0, s)),
}


@dataclass(frozen=True)
class Arg:
    """One input of a loss.

    ``shape`` is symbolic (``("N", "C")``); ``differentiable`` says whether the loss has a
    gradient with respect to it (labels and targets often do not, or are treated as constants).
    """

    name: str
    domain: str
    shape: tuple[str, ...] = ("N",)
    differentiable: bool = True

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise ValueError(f"unknown domain {self.domain!r} for argument {self.name!r}")


@dataclass(frozen=True)
class Drawn:
    """A parameter value the audit draws to suit the sampled inputs (a class-weight vector of
    ``C`` entries): ``make(rng, inputs) -> value``; ``label`` names it in the audit's report."""

    label: str
    make: Callable[[np.random.Generator, list[np.ndarray]], Any]

    def __repr__(self) -> str:
        return self.label


@dataclass(frozen=True)
class OnInputs:
    """A grid value that needs inputs of its own: ``sample(rng, sizes) -> inputs`` replaces the
    loss's sampling at that point (log-probability targets for ``log_target=True``, rates that
    are positive for ``log_input=False``). ``value`` may itself be :class:`Drawn`."""

    value: Any
    sample: Callable[[np.random.Generator, dict[str, int]], list[np.ndarray]]

    def __repr__(self) -> str:
        return repr(self.value)


def weights_per_class(of: int = 0, axis: int = -1) -> Drawn:
    """Positive weights, one per class: as many as axis ``axis`` of input ``of`` has entries."""
    return Drawn("class weights", lambda rng, inputs: rng.uniform(0.5, 2.0, np.shape(inputs[of])[axis]))


def labels_often_on_top(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    """A sampler of ``(N, C)`` scores and ``(N,)`` labels where every other label is the row's
    top score: margins land on both sides of a hinge (random labels are rarely on top, and
    a multiclass hinge then sits past its margin in every row)."""
    scores = 2.0 * rng.standard_normal((sizes["N"], sizes["C"]))
    labels = rng.integers(0, sizes["C"], sizes["N"])
    labels[::2] = np.argmax(scores[::2], axis=1)
    return [scores, labels]


def present_label(of: int) -> Drawn:
    """A label that occurs in input ``of``: an ``ignore_index`` that leaves something out."""
    return Drawn("a present label", lambda rng, inputs: int(np.asarray(inputs[of]).flat[0]))


@dataclass(frozen=True)
class Tie:
    """Inputs exactly at a kink or a tie of a loss, and the subgradient its docstring documents.

    Attributes
    ----------
    inputs : callable
        ``() -> inputs``, exactly at the kink (a zero margin, equal maxima, a distance equal to
        the margin, a probability on a clip bound, an integer count at a switch).
    subgradient : str
        The documented subgradient in words ("0, relu's convention", "the slope from above").
    expected : callable
        ``(*inputs, **params) -> gradients`` of the *summed* loss with respect to every
        differentiable input, written out independently of the loss's own code (the formula of
        the documented one-sided derivative); the analytic and composite gradients must equal it.
    params : dict
        Parameters that differ from the loss's registered defaults (``power=1``, ``full=True``).
    step : float
        The step of the one-sided differences, which the documented subgradient must lie
        between (small where the kink sits at a small value, such as a clip bound of 1e-7).
    value : callable, optional
        ``(*inputs, **params) -> float``: the summed loss there, written out independently (a
        piece of a piecewise formula offset by a constant changes no gradient, only this).
    """

    inputs: Callable[[], list[np.ndarray]]
    subgradient: str
    expected: Callable[..., list[np.ndarray]]
    params: dict[str, Any] = field(default_factory=dict)
    step: float = 1e-6
    value: Callable[..., float] | None = None


def elementwise(first: Any, *rest: Any, **params: Any) -> tuple[int, ...]:
    """``LossSpec.unreduced`` of a loss with one value per element: the shape of its first input."""
    return tuple(np.shape(first))


ROW_BLOCKS = "the reference formulas, in row blocks on threads for large inputs"  # FastPath.row_blocks's


@dataclass(frozen=True)
class FastPath:
    """A faster evaluation of a loss than its reference, held to it by the tests.

    Attributes
    ----------
    forward : callable
        ``(xp, *inputs, save, **params) -> (unreduced, saved)``: the reference's unreduced loss
        (equal within round-off) and, when ``save`` (a backward pass will follow), what that
        pass may reuse (cross entropy's softmax, as PyTorch's ``log_softmax`` keeps its
        output); else None.
    vjp : callable
        ``(xp, g, *inputs, saved, **params) -> gradients``: the reference's gradients, given what
        ``forward`` saved (None when it saved nothing, or when called without a forward).
    rowwise : bool
        Row ``i`` of the unreduced loss and of every gradient depends only on row ``i`` of every
        input, and the mean-like reduction weights are one number: large inputs may then be
        evaluated in row blocks on several threads (:mod:`nploss.losses._blocks`).
    how : str
        What it does differently from the reference, in a sentence (``nploss show`` prints it).
    """

    forward: Callable[..., Any]
    vjp: Callable[..., Any]
    rowwise: bool = False
    how: str = ""

    @classmethod
    def row_blocks(cls, forward: Callable[..., Any], vjp: Callable[..., Any]) -> FastPath:
        """The reference ``forward`` and ``vjp`` themselves, evaluated in row blocks on threads
        for large inputs (a rowwise loss whose formula needs no faster form)."""
        return cls(
            forward=lambda xp, *inputs, save, **params: (forward(xp, *inputs, **params), None),
            vjp=lambda xp, g, *inputs, saved, **params: vjp(xp, g, *inputs, **params),
            rowwise=True,
            how=ROW_BLOCKS,
        )


@dataclass(frozen=True)
class LossSpec:
    """A registered loss. See the module docstring for ``forward`` and ``vjp``.

    Attributes
    ----------
    reduction_weights : callable, optional
        ``(xp, reduction, *inputs, **params) -> weights`` such that a mean-like reduction is
        ``sum(weights * unreduced)``; the default is ``1 / numel``. Class-weighted means and
        ``batchmean`` are expressed this way, so that reduction is written once.
    reduces_itself : bool
        The loss is not a sum over samples (RMSE, Dice): ``forward`` and ``vjp`` take
        ``reduction`` and ``forward`` returns the reduced value.
    fast : FastPath, optional
        A faster evaluation, used for arrays and fused nodes; the reference ``forward``/``vjp``
        serve the composite graph, a recorded backward pass and ``mode="reference"``.
    composite : callable, optional
        A separate composite forward for losses whose array forward uses tricks Tensors lack.
    kinks : callable, optional
        ``(*inputs, **params) -> array`` of distances to the nearest non-differentiable point;
        the audit resamples inputs closer than its tolerance.
    check : callable, optional
        ``(*arrays, **params) -> None``: cross-argument validation (raises ValueError).
    sampler : callable, optional
        ``(rng, sizes) -> inputs``, replacing sampling from the argument domains.
    edge_cases : dict
        Named input factories ``rng -> inputs`` at the edges of the domain (logits of 1e4,
        probabilities of exactly 0 and 1, errors of exactly 0); the loss and its gradients must
        stay finite there.
    nonnegative : bool
        Whether the loss is never negative (a property the tests check).
    second_order : bool
        Whether the analytic VJP is audited at second order.
    grid : dict
        Values each parameter takes in the audit, where they cannot be derived from its default
        (:mod:`nploss.audit_grid` derives the rest: a flag both ways, a choice every option, a
        number its default and a second value); a :class:`Drawn` value suits the sampled inputs
        (class weights given, beside ``None`` absent).
    fixed : dict
        Parameters of the public function the audit does not vary, each with the reason (the
        public function consumes it before the registered loss, or it selects no other path).
    layouts : dict
        Named samplers ``(rng, sizes) -> inputs`` of other layouts the inputs may take (a
        variance of one per row, broadcast along the features): grid points too.
    ties : dict
        Named :class:`Tie` fixtures: inputs exactly at a kink and the documented subgradient
        there, which the audit checks (:mod:`nploss.audit_ties`).
    unreduced : callable or tuple, optional
        The documented shape with ``reduction='none'``: symbolic axes (``("N", "C")``) or
        ``(*inputs, **params) -> shape``; the default is one value per sample: the first
        input's shape without the per-sample axes its symbolic shape names after the batch axis
        (an elementwise ``("N",)`` input keeps its whole shape; see
        :func:`nploss.audit.documented_shape`).
    stability_exceptions : dict
        Stability sweeps (``"large scale"``, ``"small scale"`` or an edge case's name) at which
        the loss may legitimately be non-finite, each with the documented reason (``exp(-y f)``
        overflows for margins below about -709, whatever the implementation).
    """

    name: str
    family: str
    args: tuple[Arg, ...]
    forward: Callable[..., Any]
    vjp: Callable[..., Any]
    formula: str
    reference: str
    params: dict[str, Any] = field(default_factory=dict)
    torch: str | None = None
    reductions: tuple[str, ...] = ("mean", "sum", "none")
    reduction_weights: Callable[..., Any] | None = None
    reduces_itself: bool = False
    fast: FastPath | None = None
    composite: Callable[..., Any] | None = None
    kinks: Callable[..., Any] | None = None
    check: Callable[..., Any] | None = None
    classes_from: str | None = None  # the argument whose axis 1 gives C
    sizes: dict[str, int] = field(default_factory=dict)
    sampler: Callable[..., list[np.ndarray]] | None = None
    edge_cases: dict[str, Callable[[np.random.Generator], list[np.ndarray]]] = field(default_factory=dict)
    nonnegative: bool = True
    second_order: bool = True
    stability_exceptions: dict[str, str] = field(default_factory=dict)
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)
    ties: dict[str, Tie] = field(default_factory=dict)
    layouts: dict[str, Callable[[np.random.Generator, dict[str, int]], list[np.ndarray]]] = field(default_factory=dict)
    unreduced: tuple[str, ...] | Callable[..., tuple[int, ...]] | None = None

    @property
    def differentiable(self) -> tuple[int, ...]:
        return tuple(i for i, a in enumerate(self.args) if a.differentiable)

    @property
    def source(self) -> str:
        """Where the reference lives: ``nploss/losses/<family>/<topic>.py, _x_forward, _x_vjp``."""
        return f"{source_file(self.forward)}, {self.forward.__name__}, {self.vjp.__name__}"

    def signpost(self) -> str:
        """The last paragraph of the public function's docstring (added at import, so that it
        follows the code wherever it moves)."""
        line = f"Source: {self.source}"
        if self.fast is not None and self.fast.how == ROW_BLOCKS:
            line += "; for large inputs evaluated in row blocks on threads"
        elif self.fast is not None:
            line += f"; a fast path beside them (``nploss show {self.name}``)"
        return line + "."

    def sample(self, rng: np.random.Generator, sizes: dict[str, int] | None = None) -> list[np.ndarray]:
        """Inputs drawn from the argument domains, for the audit and the registry test."""
        sizes = {**SIZES, **self.sizes, **(sizes or {})}
        if self.sampler is not None:
            return self.sampler(rng, sizes)
        return [DOMAINS[a.domain][1](rng, tuple(sizes[s] for s in a.shape), sizes["C"]) for a in self.args]


def source_file(fn: Callable[..., Any]) -> str:
    """The file of ``fn`` relative to the folder that holds the ``nploss`` package, with ``/``."""
    path = pathlib.Path(inspect.getsourcefile(fn) or "?").resolve()
    root = pathlib.Path(__file__).resolve().parents[2]
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()


REGISTRY: dict[str, LossSpec] = {}


def register(spec: LossSpec) -> LossSpec:
    """Add a loss to :data:`REGISTRY` (names are unique)."""
    if spec.name in REGISTRY:
        raise ValueError(f"a loss named {spec.name!r} is already registered")
    REGISTRY[spec.name] = spec
    return spec
