"""A stand-in for CuPy on the CPU, for tests of the ``cupy`` backend on machines without a GPU.

NumPy does the arithmetic, under CuPy's rules for where arrays live:

- a kernel (a ufunc, a routine of the module) takes device arrays, Python numbers and NumPy
  scalars, and refuses a NumPy array, whatever its shape (CuPy: ``TypeError: Unsupported type
  <class 'numpy.ndarray'>``);
- a host array reaches the device only through ``asarray`` / ``array``, and comes back only
  through ``.get()`` or ``cupy.asnumpy``: ``numpy.asarray(device_array)`` raises, as CuPy's
  ``__array__`` does (:func:`refusing_implicit_copies` makes NumPy's conversions say so);
- reductions to one value give 0-d device arrays, not NumPy scalars;
- every copy to the host is counted in :data:`transfers` (``.get()``, and the implicit ones of
  ``float``, ``bool``, ``.item()`` ..., each a synchronising copy on a GPU).

It checks where arrays live, not what CuPy computes: a test passing here can still fail on a GPU
where CuPy's routines differ from NumPy's (a missing function, another dtype rule).
"""

from __future__ import annotations

import contextlib
import operator
import types
from collections.abc import Iterator
from typing import Any

import numpy as np

# The size of every copy from the device to the host, in order: ``.get()``, and the implicit
# ones of a Python number, a truth value or a list made of a device array (each a synchronising
# copy on a GPU)
transfers: list[int] = []


class ndarray(np.ndarray):  # CuPy's name
    """A NumPy array standing for an array on the device."""

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, out: Any = None, **kwargs: Any) -> Any:
        _refuse_host_arrays(f"{ufunc.__name__}.{method}", inputs, out or (), kwargs)
        if out is not None:
            kwargs["out"] = tuple(_host(o) for o in out)
        result = getattr(ufunc, method)(*_host(inputs), **_host(kwargs))
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _device(result)

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        _refuse_host_arrays(func.__name__, args, kwargs)
        return _device(func(*_host(args), **_host(kwargs)))

    def get(self) -> np.ndarray:
        """The values, copied to the host (CuPy's device-to-host copy)."""
        transfers.append(self.size)
        return np.array(self.view(np.ndarray))

    def _to_host(self, convert: Any) -> Any:
        transfers.append(self.size)
        return convert(self.view(np.ndarray))

    def __float__(self) -> float:
        return self._to_host(float)

    def __int__(self) -> int:
        return self._to_host(int)

    def __bool__(self) -> bool:
        return self._to_host(bool)

    def __index__(self) -> int:
        return self._to_host(operator.index)

    def item(self, *args: Any) -> Any:
        return self._to_host(lambda a: a.item(*args))

    def tolist(self) -> Any:
        return self._to_host(np.ndarray.tolist)


def _map(fn: Any, tree: Any) -> Any:
    """``fn`` of every leaf of ``tree`` (tuples, lists and dicts are rebuilt around them)."""
    if isinstance(tree, tuple | list):
        return type(tree)(_map(fn, v) for v in tree)
    if isinstance(tree, dict):
        return {k: _map(fn, v) for k, v in tree.items()}
    return fn(tree)


def _host(tree: Any) -> Any:
    """Device arrays as NumPy views."""
    return _map(lambda x: x.view(np.ndarray) if isinstance(x, ndarray) else x, tree)


def _as_device(x: Any) -> Any:
    if type(x) is np.ndarray:
        return x.view(ndarray)
    if isinstance(x, np.generic):  # a NumPy scalar as a 0-d array, as CuPy's reductions give
        return np.asarray(x).view(ndarray)
    return x


def _device(tree: Any) -> Any:
    """Results as device arrays."""
    return _map(_as_device, tree)


def _refuse_host_arrays(name: str, *trees: Any) -> None:
    def refuse(x: Any) -> None:
        if isinstance(x, np.ndarray) and not isinstance(x, ndarray):
            raise TypeError(f"Unsupported type {type(x)} (a host array given to cupy.{name})")

    _map(refuse, trees)


class _Routine:
    """A routine of the module (NumPy's, ufuncs included): device arrays in, device arrays out."""

    def __init__(self, name: str, fn: Any) -> None:
        self.__name__, self._fn = name, fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _refuse_host_arrays(self.__name__, args, kwargs)
        return _device(self._fn(*_host(args), **_host(kwargs)))

    def __getattr__(self, name: str) -> Any:  # ufunc methods: maximum.reduce, add.at ...
        return _Routine(f"{self.__name__}.{name}", getattr(self._fn, name))


def asarray(a: Any, dtype: Any = None) -> ndarray:
    """Host data to the device (the only way in), device arrays as they are."""
    return np.array(_host(a), dtype=dtype, copy=not isinstance(a, ndarray) or None).view(ndarray)


def array(a: Any, dtype: Any = None, copy: bool = True) -> ndarray:
    return np.array(_host(a), dtype=dtype, copy=True if copy else None).view(ndarray)


def asnumpy(a: Any) -> np.ndarray:
    return a.get() if isinstance(a, ndarray) else np.asarray(a)


def _wrapped(name: str, value: Any) -> Any:
    """NumPy's attribute ``name`` as the stand-in's: routines and submodules (``lib.stride_tricks``)
    wrapped, dtypes and constants as they are."""
    if isinstance(value, types.ModuleType):
        return _Submodule(name, value)
    if isinstance(value, type) or not callable(value):
        return value
    return _Routine(name, value)


class _Submodule:
    def __init__(self, name: str, module: types.ModuleType) -> None:
        self._name, self._module = name, module

    def __getattr__(self, name: str) -> Any:
        return _wrapped(f"{self._name}.{name}", getattr(self._module, name))


def _module() -> types.ModuleType:
    module = types.ModuleType("cupy", __doc__)
    module.ndarray = ndarray
    module.asarray, module.array, module.asnumpy = asarray, array, asnumpy
    module.__version__ = f"stand-in on NumPy {np.__version__}"
    runtime = types.SimpleNamespace(
        getDeviceCount=lambda: 1,
        getDeviceProperties=lambda device: {"name": b"CPU stand-in for a GPU"},
        deviceSynchronize=lambda: None,  # NumPy's work is done when its call returns
    )
    module.cuda = types.SimpleNamespace(runtime=runtime)
    module.__getattr__ = lambda name: _wrapped(name, getattr(np, name))
    return module


cupy = _module()
cupyx = types.ModuleType("cupyx")
cupyx.scatter_add = _Routine("scatter_add", np.add.at)


@contextlib.contextmanager
def refusing_implicit_copies() -> Iterator[None]:
    """Make NumPy's conversions refuse device arrays, as ``cupy.ndarray.__array__`` does (a
    subclass of ``numpy.ndarray`` is otherwise converted without a word)."""
    originals = {name: getattr(np, name) for name in ("asarray", "array", "asanyarray", "ascontiguousarray")}

    def strict(name: str) -> Any:
        convert = originals[name]

        def refuse(a: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(a, ndarray):
                raise TypeError(f"Implicit conversion to a NumPy array is not allowed (numpy.{name} of a device array)")
            return convert(a, *args, **kwargs)

        return refuse

    for name in originals:
        setattr(np, name, strict(name))
    try:
        yield
    finally:
        for name, convert in originals.items():
            setattr(np, name, convert)
