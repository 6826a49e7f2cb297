"""The same loss in other libraries: the call that gives nploss's number, and the traps between them.

Each :class:`Equivalent` names a registered loss, a library and the call in that library that
computes the same value (and gradient), with the argument mapping and the default differences
spelled out. Every row names the committed fixture that verifies it numerically
(``tests/test_equivalents.py`` recomputes nploss's side and compares), so no row is claimed without
a number behind it. :data:`TRAPS` lists the conventions that differ between libraries under the
same name.
"""

from __future__ import annotations

from dataclasses import dataclass

LIBRARIES = (
    "PyTorch",
    "Keras 3",
    "optax",
    "pytorch-metric-learning",
    "kornia",
    "segmentation-models-pytorch",
    "scikit-learn",
)


@dataclass(frozen=True)
class Equivalent:
    """One row of the equivalents table.

    Attributes
    ----------
    loss : str
        The name in :data:`nploss.losses.REGISTRY`.
    library : str
        One of :data:`LIBRARIES`.
    call : str
        The call in that library, e.g. ``torch.nn.functional.cross_entropy(input, target)``.
    mapping : str
        How nploss's arguments map onto the call's (order, names, transforms such as ``log``).
    differences : str
        Default values or conventions that differ, or ``""`` when none do.
    fixture : str
        The committed fixture that verifies the row: ``path/to/fixture::key``.
    """

    loss: str
    library: str
    call: str
    mapping: str
    differences: str
    fixture: str


@dataclass(frozen=True)
class Trap:
    """A convention that differs between libraries under the same name (or the same loss under two)."""

    title: str
    libraries: tuple[str, ...]
    detail: str
    fixture: str  # the committed fixture whose numbers show it


EQUIVALENTS: tuple[Equivalent, ...] = ()
TRAPS: tuple[Trap, ...] = ()


def equivalents_of(loss: str) -> list[Equivalent]:
    """The rows for one loss, in the order of :data:`LIBRARIES`."""
    return sorted((e for e in EQUIVALENTS if e.loss == loss), key=lambda e: LIBRARIES.index(e.library))
