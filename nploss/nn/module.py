"""``Parameter`` and ``Module``: the bookkeeping that turns a pile of Tensors into a model.

A network is a tree of Modules. Each Module owns its *parameters* (Tensors the optimiser
updates), its *buffers* (state that is saved and restored but not trained, such as BatchNorm's
running statistics) and its *sub-modules*. Assigning an attribute registers it in the matching
ordered dict (as ``torch.nn.Module.__setattr__`` does), so that :meth:`Module.parameters`,
:meth:`Module.state_dict` and :meth:`Module.train` can walk the tree without each layer listing
its own contents. Dicts rather than sets keep every walk in registration order, which makes
parameter lists, optimiser state and checkpoints deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from .. import backend
from ..autograd import Tensor, as_data

_REGISTRIES = ("_parameters", "_buffers", "_modules")


class Parameter(Tensor):
    """A Tensor that a :class:`Module` registers as trainable (``requires_grad=True`` by default).

    The data is not copied (as ``torch.nn.Parameter``): wrapping an array shares its memory, and
    an optimiser updating the Parameter in place updates that array.
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__().removeprefix("Tensor")


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` with ``strict=False`` could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models.

    Subclasses call ``super().__init__()`` first, then assign Parameters, sub-Modules and
    buffers (:meth:`register_buffer`) as attributes, and implement :meth:`forward`. Calling the
    module calls ``forward``.

    Attributes
    ----------
    training : bool
        True in training mode (the default), False after :meth:`eval`. Layers whose behaviour
        differs (BatchNorm) read it.
    """

    training: bool

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these dicts to exist already.
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration
    def _registries(self, name: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        try:
            return self.__dict__["_parameters"], self.__dict__["_buffers"], self.__dict__["_modules"]
        except KeyError:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() is called: call super().__init__() "
                f"first in {type(self).__name__}.__init__"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        registered = any(name in self.__dict__.get(r, ()) for r in _REGISTRIES)
        if not registered and not isinstance(value, Parameter | Module):
            object.__setattr__(self, name, value)  # a plain attribute (sizes, flags)
            return
        params, buffers, modules = self._registries(name)
        if isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
        elif name in params:
            # Only a Parameter (or None, "no bias") may replace a Parameter: silently turning
            # a trained weight into a plain attribute would drop it from parameters().
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter {name!r}: expected a Parameter or None"
                )
            params[name] = None
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to sub-module {name!r}: expected a Module or None"
                )
            modules[name] = None
        else:  # name is a buffer
            buffers[name] = None if value is None else _as_buffer(value, name)

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails, i.e. for registered entries.
        d = self.__dict__
        for registry in _REGISTRIES:
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in _REGISTRIES:
            if name in self.__dict__.get(registry, {}):
                del self.__dict__[registry][name]
                return
        object.__delattr__(self, name)

    def _forget(self, name: str) -> None:
        """Remove ``name`` from every registry and the instance dict (it is being re-registered)."""
        self.__dict__.pop(name, None)
        for registry in _REGISTRIES:
            self.__dict__[registry].pop(name, None)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None, for an absent optional parameter such as a bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: param must be a Parameter or None, got {type(param).__name__}")
        params, _, _ = self._registries(name)
        self._forget(name)
        params[name] = param

    def register_buffer(self, name: str, value: Any) -> None:
        """Register state that is saved in :meth:`state_dict` but not trained.

        Parameters
        ----------
        name : str
        value : Tensor, array_like or None
            Stored as a Tensor that does not require grad.
        """
        _, buffers, _ = self._registries(name)
        self._forget(name)
        buffers[name] = None if value is None else _as_buffer(value, name)

    def register_module(self, name: str, module: Module | None) -> None:
        """Register a sub-module under a name that need not be an identifier (Sequential uses "0")."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"register_module: module must be a Module or None, got {type(module).__name__}")
        _, _, modules = self._registries(name)
        self._forget(name)
        modules[name] = module

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for this module and every descendant, depth first, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))  # reversed: pop() then visits them in order

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules, in registration order."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` pairs; a Parameter shared by two modules appears once,
        under the first name reached (so an optimiser does not update it twice)."""
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def _named_members(self, registry: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, member in module.__dict__[registry].items():
                if member is None or id(member) in seen:
                    continue
                seen.add(id(member))
                yield (f"{module_name}.{name}" if module_name else name), member

    # ------------------------------------------------------------------ modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every descendant; returns ``self``."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be a bool, got {type(mode).__name__}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (``train(False)``): BatchNorm then uses its running statistics."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (set it to None, as PyTorch does by default)."""
        for param in self.parameters():
            param.grad = None

    # ------------------------------------------------------------------ checkpoints
    def _state_tensors(self) -> dict[str, Tensor]:
        """Every parameter and buffer by dotted name, shared ones under each name (as PyTorch)."""
        state: dict[str, Tensor] = {}
        self._collect_state("", state, set())
        return state

    def _collect_state(self, prefix: str, state: dict[str, Tensor], visiting: set[int]) -> None:
        if id(self) in visiting:  # a module containing itself would recurse forever
            return
        visiting.add(id(self))
        for registry in ("_parameters", "_buffers"):
            for name, tensor in self.__dict__[registry].items():
                if tensor is not None:
                    state[prefix + name] = tensor
        for name, module in self._modules.items():
            if module is not None:
                module._collect_state(f"{prefix}{name}.", state, visiting)
        visiting.discard(id(self))

    def state_dict(self) -> dict[str, Any]:
        """Parameters and buffers by dotted name, as NumPy arrays on the host (copies).

        Returns
        -------
        dict of str to numpy.ndarray
            In registration order; e.g. ``{"0.weight": ..., "0.bias": ..., "1.running_mean": ...}``.
        """
        # copy(): for NumPy data to_numpy returns the array itself, and a checkpoint must not
        # change when training continues.
        return {name: backend.to_numpy(t.data).copy() for name, t in self._state_tensors().items()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy ``state`` into the parameters and buffers, in place.

        Parameters
        ----------
        state : mapping of str to array_like
            As returned by :meth:`state_dict`.
        strict : bool
            If True, a key of the module missing from ``state``, or a key of ``state`` the module
            does not have, is an error. If False they are skipped and returned.

        Returns
        -------
        IncompatibleKeys
            ``(missing_keys, unexpected_keys)``.

        Raises
        ------
        KeyError
            ``strict`` and the keys differ; the message lists both sides.
        ValueError
            A value's shape differs from the parameter's (whatever ``strict``).

        Nothing is changed when an error is raised: everything is checked before anything is copied.
        The values are written into the existing arrays, so optimisers holding the parameters keep
        working.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict: state must be a mapping of names to arrays, got {type(state).__name__}")
        own = self._state_tensors()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict for {type(self).__name__}: missing keys {missing}, unexpected keys {unexpected} "
                "(pass strict=False to load the keys that match)"
            )
        updates = []
        for name, tensor in own.items():
            if name not in state:
                continue
            value = as_data(state[name])
            shape = tuple(getattr(value, "shape", ()))
            if shape != tensor.shape:
                raise ValueError(
                    f"load_state_dict: shape mismatch for {name!r}: the checkpoint has {shape}, "
                    f"the module has {tensor.shape}"
                )
            updates.append((tensor, value))
        for tensor, value in updates:
            # Through the host, into the array module of the target (a NumPy checkpoint loads
            # into CuPy parameters and vice versa).
            xp = backend.get_array_module(tensor.data)
            tensor.data[...] = xp.asarray(backend.to_numpy(value), dtype=tensor.dtype)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        """The layer's settings, shown inside its ``repr``."""
        return ""

    def __repr__(self) -> str:
        children = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        head = [self.extra_repr()] if self.extra_repr() else []
        return f"{type(self).__name__}(\n  " + "\n  ".join(head + children) + "\n)"


def _as_buffer(value: Any, name: str) -> Tensor:
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise TypeError(f"buffer {name!r} must not require grad: register it as a Parameter instead")
        return value
    return Tensor(backend.asarray(value))


def functional_call(module: Module, params: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``module`` with some parameters or buffers replaced by the given values.

    As ``torch.func.functional_call``: the forward reads ``params[name]`` wherever it would
    read the registered entry ``name`` (dotted, as in :meth:`Module.state_dict`). This turns a
    layer into a function of its weights, which is what gradient checking and meta-learning need.
    The module is restored afterwards, also if the forward raises.

    Parameters
    ----------
    module : Module
    params : mapping of str to Tensor or array_like
        Arrays are wrapped in Tensors that do not require grad.
    *args, **kwargs
        Passed to the module.
    """
    entries = []
    for name, value in params.items():
        owner_name, _, leaf = name.rpartition(".")
        owner = module
        for part in owner_name.split(".") if owner_name else []:
            owner = owner._modules.get(part)
            if owner is None:
                raise KeyError(f"functional_call: {name!r} is not a parameter or buffer of {type(module).__name__}")
        registry = next((r for r in ("_parameters", "_buffers") if leaf in owner.__dict__[r]), None)
        if registry is None:
            raise KeyError(f"functional_call: {name!r} is not a parameter or buffer of {type(module).__name__}")
        entries.append((owner.__dict__[registry], leaf, value if isinstance(value, Tensor) else Tensor(value)))
    saved = [(registry, leaf, registry[leaf]) for registry, leaf, _ in entries]
    try:
        for registry, leaf, value in entries:
            registry[leaf] = value
        return module(*args, **kwargs)
    finally:
        for registry, leaf, original in reversed(saved):
            registry[leaf] = original
