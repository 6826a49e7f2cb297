"""Checkpoints as ``.npz`` files: written atomically and durably, read without pickle, validated
before anything is built from them.

Layout: ``model/<name>`` and ``lambda/<name>`` hold the state dicts of the network and of the
adaptive-λ network; ``optimizer/<which>/<i>/<key>`` the per-parameter optimiser state arrays;
``meta`` a JSON string::

    {"config": {...TrainConfig fields...}, "episode": int, "sampler": {PCG64 state},
     "optimizers": {"model": {"hyperparameters": {...}, "scalars": {"<i>/<key>": number}},
                    "lambda": {...}}}   # "lambda" only with lambda_mode "adaptive"

Writing: the file goes to ``<path>.partial``, is flushed and ``fsync``-ed, renamed over
``<path>`` with :func:`os.replace`, and the directory is ``fsync``-ed (on POSIX), so a crash
leaves either the old checkpoint or the new one, never a broken file. A ``.partial`` left by a
killed run is never read and is removed by the next save.

Reading (:func:`load`) refuses every bad file with a :class:`CheckpointError` naming what is
wrong, in this order and before any model is built:

1. the file: it must exist, not be a ``.partial``, be a zip archive (an ``.npy`` renamed
   ``.npz``, an empty, random or pickled file is refused by its first bytes) and hold only
   ``.npy`` members; nothing is ever unpickled (object arrays are refused from their header);
2. ``meta``: a 0-d string of at most :data:`MAX_META_CHARS` characters holding a JSON object;
3. the schema of ``meta`` (:func:`validate`): exactly the keys above; ``config`` with known
   keys only (a key absent takes :class:`~nploss.fewshot.train.TrainConfig`'s default), each of
   its field's type (``int`` fields reject bools and strings, ``float`` fields must be finite)
   and accepted by ``TrainConfig``; ``seed >= 0``; ``0 <= episode <= config.episodes``; the
   sampler state a valid PCG64 state; each optimiser's hyperparameters exactly those of its
   class, finite and non-negative; its per-parameter state keys those of its class, complete,
   for existing parameters only;
4. the arrays, from their ``.npy`` headers (nothing read yet): exactly the state entries the
   configuration's model has (``hidden``, ``metric``, ``refine``), each of the shape and dtype
   that model would give it, optimiser states of their parameter's shape; so a ``meta`` saying
   ``hidden: 100000`` over arrays of 64 filters is refused without allocating anything;
5. the values: every floating-point array finite (a NaN or inf weight is refused by name).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import pathlib
import re
import typing
import zipfile
from typing import Any

import numpy as np

from .. import backend, optim
from ..autograd import Tensor

MAX_META_CHARS = 1 << 20  # a real meta is ~2 kB; a bigger one is refused before it is read

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty archive
_NPY_MAGIC = b"\x93NUMPY"
_TOP_KEYS = ("config", "episode", "sampler", "optimizers")
_OPTIMIZERS = {"adam": optim.Adam, "sgd": optim.SGD}
_STATE_KEYS = {"adam": ("step", "exp_avg", "exp_avg_sq"), "sgd": ("momentum_buffer",)}
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read: missing, truncated, corrupt, not a checkpoint, with a
    ``meta`` that breaks the schema, with non-finite values, or of another model."""


# --------------------------------------------------------------------------------- writing


def partial_path(path: str | os.PathLike[str]) -> pathlib.Path:
    """Where :func:`save` writes before renaming: ``<path>.partial``."""
    path = pathlib.Path(path)
    return path.with_name(path.name + ".partial")


def _flatten_optimizer(prefix: str, state_dict: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    scalars: dict[str, Any] = {}
    for i, entry in state_dict["state"].items():
        for key, value in entry.items():
            if hasattr(value, "shape") and value.shape != ():
                arrays[f"optimizer/{prefix}/{i}/{key}"] = backend.to_numpy(value)
            else:
                scalars[f"{i}/{key}"] = value.item() if hasattr(value, "item") else value
    return {"hyperparameters": state_dict["hyperparameters"], "scalars": scalars}


def _unflatten_optimizer(prefix: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    head = f"optimizer/{prefix}/"
    for name, value in arrays.items():
        if name.startswith(head):
            i, key = name[len(head) :].split("/", 1)
            state.setdefault(int(i), {})[key] = value
    for name, value in meta["scalars"].items():
        i, key = name.split("/", 1)
        state.setdefault(int(i), {})[key] = value
    hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["hyperparameters"].items()}
    return {"hyperparameters": hyper, "state": state}


def _fsync_directory(directory: pathlib.Path) -> None:
    """Make a rename in ``directory`` durable (POSIX); a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory: the rename is done anyway
        pass
    finally:
        os.close(fd)


def save(path: str | os.PathLike[str], model: Any, optimizers: dict[str, Any], meta: dict[str, Any], extra_modules: dict[str, Any] | None = None) -> pathlib.Path:
    """Write a checkpoint (see the module docstring); returns its path."""
    path = pathlib.Path(path)
    arrays: dict[str, np.ndarray] = {f"model/{k}": v for k, v in model.state_dict().items()}
    for prefix, module in (extra_modules or {}).items():
        arrays.update({f"{prefix}/{k}": v for k, v in module.state_dict().items()})
    meta = dict(meta, optimizers={name: _flatten_optimizer(name, opt.state_dict(), arrays) for name, opt in optimizers.items()})
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    partial.unlink(missing_ok=True)  # a stale one, left by a killed run
    try:
        with open(partial, "xb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


# --------------------------------------------------------------------------------- the schema


def _kind(value: Any) -> str:
    return "a bool" if isinstance(value, bool) else f"{type(value).__name__} {value!r}"[:80]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _expect_object(value: Any, where: str, keys: typing.Iterable[str] | None = None, required: typing.Iterable[str] = ()) -> dict[str, Any]:
    """``value`` as a dict with string keys, only ``keys`` (if given) and all of ``required``."""
    if not isinstance(value, dict):
        raise CheckpointError(f"{where} must be a JSON object, got {_json_kind(value)}")
    if keys is not None:
        unknown = sorted(set(value) - set(keys))
        if unknown:
            raise CheckpointError(f"{where} has unknown key{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))} (known: {', '.join(keys)})")
    missing = [k for k in required if k not in value]
    if missing:
        raise CheckpointError(f"{where} has no {', '.join(map(repr, missing))}")
    return value


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a bool", type(None): "null", int: "an int", float: "a float"}
    return names.get(type(value), type(value).__name__)


def _finite(value: int | float) -> bool:
    """A finite float, or an int a float can hold (JSON allows 1e999 and 10**400)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _expect_number(value: Any, where: str, low: float = 0.0, integer: bool = False) -> Any:
    if not (_is_int(value) if integer else _is_number(value)):
        raise CheckpointError(f"{where} must be {'an int' if integer else 'a number'}, got {_kind(value)}")
    if not _finite(value) or value < low:
        raise CheckpointError(f"{where} must be a finite number >= {low:g}, got {value!r}")
    return value


def _config_types() -> dict[str, Any]:
    from .train import TrainConfig

    return typing.get_type_hints(TrainConfig)


def validate_config(config: Any, where: str = "meta.config") -> Any:
    """The :class:`~nploss.fewshot.train.TrainConfig` of a checkpoint's ``config`` object, or a
    :class:`CheckpointError` naming the first key that breaks the schema."""
    from .train import TrainConfig

    types = _config_types()
    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    config = _expect_object(config, where, fields)
    for name, value in config.items():
        kind = types[name]
        at = f"{where}.{name}"
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = _is_int(value)
        elif kind is float:  # within_group is a fraction or a bool (True: all episodes)
            ok = _is_number(value) or (name == "within_group" and isinstance(value, bool))
            if ok and not _finite(value):
                raise CheckpointError(f"{at} must be finite, got {value!r}")
        elif kind is str:
            ok = isinstance(value, str)
        elif typing.get_origin(kind) is list:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        else:  # a field of a type this schema does not know: refuse rather than guess
            raise CheckpointError(f"{at}: the checkpoint schema does not know the type {kind} (update nploss.fewshot.checkpoint)")
        if not ok:
            expected = {bool: "a bool", int: "an int", float: "a number", str: "a string"}.get(kind, "a list of strings")
            raise CheckpointError(f"{at} must be {expected}, got {_kind(value)}")
    if config.get("seed", 0) < 0:
        raise CheckpointError(f"{where}.seed must be >= 0, got {config['seed']!r}")
    try:
        return TrainConfig(**config)
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"{where}: {error}") from None


@dataclasses.dataclass(frozen=True)
class Entry:
    """One state entry a module has: its shape, its dtype, and whether it is a parameter."""

    shape: tuple[int, ...]
    dtype: np.dtype
    parameter: bool


def protonet_layout(hidden: int, metric: str, refine: bool, dtype: str, in_channels: int = 1) -> dict[str, Entry]:
    """The state entries of ``ProtoNet(hidden=..., metric=..., refine=..., dtype=...)`` in
    ``state_dict`` order, parameters in ``parameters()`` order, computed without building it
    (a test holds it to the real model)."""
    f, count = np.dtype(dtype), np.dtype(np.int64)
    layout: dict[str, Entry] = {}
    if metric == "cosine":
        layout["log_scale"] = Entry((), f, True)
    for i in range(4):
        conv, bn = f"backbone.{4 * i}", f"backbone.{4 * i + 1}"
        layout[f"{conv}.weight"] = Entry((hidden, in_channels if i == 0 else hidden, 3, 3), f, True)
        layout[f"{conv}.bias"] = Entry((hidden,), f, True)
        layout[f"{bn}.weight"] = Entry((hidden,), f, True)
        layout[f"{bn}.bias"] = Entry((hidden,), f, True)
        layout[f"{bn}.running_mean"] = Entry((hidden,), f, False)
        layout[f"{bn}.running_var"] = Entry((hidden,), f, False)
        layout[f"{bn}.num_batches_tracked"] = Entry((), count, False)
    if refine:
        layout["refiner.norm.weight"] = Entry((hidden,), f, True)
        layout["refiner.norm.bias"] = Entry((hidden,), f, True)
        for proj in ("q", "k", "v", "out"):
            layout[f"refiner.attention.{proj}.weight"] = Entry((hidden, hidden), f, True)
            layout[f"refiner.attention.{proj}.bias"] = Entry((hidden,), f, True)
    return layout


def _module_layout(module: Any) -> dict[str, Entry]:
    parameters = {name for name, _ in module.named_parameters()}
    return {name: Entry(tuple(v.shape), v.dtype, name in parameters) for name, v in module.state_dict().items()}


def _lambda_layout() -> dict[str, Entry]:
    from .adaptive import EpisodeAdaptiveLambda  # a fixed 2x16x3 MLP, whatever the config

    return _module_layout(EpisodeAdaptiveLambda())


def _describe(entry_shape: tuple[int, ...], dtype: np.dtype) -> str:
    return f"{np.dtype(dtype).name}{list(entry_shape)}"


def validate(meta: Any, headers: dict[str, tuple[tuple[int, ...], np.dtype]]) -> Any:
    """Check ``meta`` (the parsed JSON) and the arrays' ``headers`` (name -> (shape, dtype), from
    the ``.npy`` headers, without the data) against the schema of the module docstring; returns
    the run's :class:`~nploss.fewshot.train.TrainConfig`. Raises :class:`CheckpointError`."""
    meta = _expect_object(meta, "meta", _TOP_KEYS, _TOP_KEYS)
    config = validate_config(meta["config"])
    if not _is_int(meta["episode"]) or not 0 <= meta["episode"] <= config.episodes:
        raise CheckpointError(f"meta.episode must be an int in [0, config.episodes = {config.episodes}], got {_kind(meta['episode'])}")
    _validate_sampler(meta["sampler"])

    modules = {"model": protonet_layout(config.hidden, config.metric, config.refine, config.dtype)}
    optimizers = {"model": config.optimizer}
    if config.lambda_mode == "adaptive":
        modules["lambda"] = _lambda_layout()
        optimizers["lambda"] = "adam"
    arch = f"hidden={config.hidden}, metric={config.metric!r}, refine={config.refine}, dtype={config.dtype!r}"

    # the arrays: exactly the entries of the modules, of their shapes and dtypes
    names = set(headers) - {"meta"}
    for prefix, layout in modules.items():
        expected = {f"{prefix}/{k}" for k in layout}
        missing = sorted(expected - names, key=list(f"{prefix}/{k}" for k in layout).index)
        stray = sorted(n for n in names if n.startswith(prefix + "/") and n not in expected)
        if missing or stray:
            parts = [f"missing {_few(missing)}"] * bool(missing) + [f"unexpected {_few(stray)}"] * bool(stray)
            raise CheckpointError(f"the arrays are not those of the configuration's model ({arch}), another architecture: {'; '.join(parts)}")
        for key, entry in layout.items():
            shape, dtype = headers[f"{prefix}/{key}"]
            if tuple(shape) != entry.shape or not _same_kind(dtype, entry.dtype):
                raise CheckpointError(
                    f"array {prefix}/{key} is {_describe(shape, dtype)} but the configuration ({arch}) needs "
                    f"{_describe(entry.shape, entry.dtype)}: the meta does not describe these arrays"
                )
    known_prefixes = {f"{p}/" for p in modules} | {"optimizer/"}
    stray = sorted(n for n in names if not any(n.startswith(p) for p in known_prefixes))
    if stray:
        raise CheckpointError(f"unknown array{'s' * (len(stray) > 1)} {_few(stray)} (a checkpoint holds model/, {'lambda/, ' * ('lambda' in modules)}optimizer/ and meta)")

    # the optimisers
    opt_meta = _expect_object(meta["optimizers"], "meta.optimizers", list(optimizers), list(optimizers))
    opt_arrays = {n for n in names if n.startswith("optimizer/")}
    for name, kind in optimizers.items():
        params = [(k, e) for k, e in modules[name].items() if e.parameter]
        opt_arrays -= _validate_optimizer(name, kind, opt_meta[name], params, headers)
    if opt_arrays:
        raise CheckpointError(f"unknown optimiser array{'s' * (len(opt_arrays) > 1)} {_few(sorted(opt_arrays))} (optimisers: {', '.join(optimizers)})")
    return config


def _few(names: list[str], n: int = 4) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def _same_kind(dtype: np.dtype, expected: np.dtype) -> bool:
    """Same kind and width, any byte order (an integer counter may be of any integer width)."""
    dtype, expected = np.dtype(dtype), np.dtype(expected)
    if expected.kind in "iu":
        return dtype.kind in "iu"
    return dtype.kind == expected.kind and dtype.itemsize == expected.itemsize


def _validate_sampler(state: Any) -> None:
    where = "meta.sampler"
    state = _expect_object(state, where, ("bit_generator", "state", "has_uint32", "uinteger"), ("bit_generator", "state", "has_uint32", "uinteger"))
    if state["bit_generator"] != "PCG64":
        raise CheckpointError(f"{where}.bit_generator must be 'PCG64', got {_kind(state['bit_generator'])}")
    inner = _expect_object(state["state"], f"{where}.state", ("state", "inc"), ("state", "inc"))
    for key, limit in (("state", 1 << 128), ("inc", 1 << 128)):
        if not _is_int(inner[key]) or not 0 <= inner[key] < limit:
            raise CheckpointError(f"{where}.state.{key} must be an int in [0, 2**128), got {_kind(inner[key])}")
    if not _is_int(state["has_uint32"]) or state["has_uint32"] not in (0, 1):
        raise CheckpointError(f"{where}.has_uint32 must be 0 or 1, got {_kind(state['has_uint32'])}")
    if not _is_int(state["uinteger"]) or not 0 <= state["uinteger"] < 1 << 32:
        raise CheckpointError(f"{where}.uinteger must be an int in [0, 2**32), got {_kind(state['uinteger'])}")
    try:
        np.random.PCG64().state = state
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        raise CheckpointError(f"{where} is not a PCG64 state: {error}") from None


def _validate_optimizer(name: str, kind: str, meta: Any, params: list[tuple[str, Entry]], headers: dict[str, Any]) -> set[str]:
    """Check one optimiser's meta and arrays; returns the array names that belong to it."""
    where = f"meta.optimizers.{name}"
    meta = _expect_object(meta, where, ("hyperparameters", "scalars"), ("hyperparameters", "scalars"))
    hyper_names = _OPTIMIZERS[kind]._hyperparameters
    hyper = _expect_object(meta["hyperparameters"], f"{where}.hyperparameters", hyper_names, hyper_names)
    for key, value in hyper.items():
        at = f"{where}.hyperparameters.{key}"
        if key == "nesterov":
            if not isinstance(value, bool):
                raise CheckpointError(f"{at} must be a bool, got {_kind(value)}")
        elif key == "betas":
            if not (isinstance(value, list) and len(value) == 2 and all(_is_number(b) and _finite(b) and 0 <= b < 1 for b in value)):
                raise CheckpointError(f"{at} must be a list of two numbers in [0, 1), got {value!r}"[:200])
        else:
            _expect_number(value, at)
    try:  # and the optimiser's own rules (e.g. Nesterov needs momentum), on a stand-in parameter
        _OPTIMIZERS[kind]([Tensor(np.zeros(1), requires_grad=True)], **hyper)
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"{where}.hyperparameters: {error}") from None
    keys = _STATE_KEYS[kind]
    present: dict[int, dict[str, str]] = {}  # parameter -> state key -> where it is

    def parameter(index: str, at: str) -> int:
        if not _INDEX.fullmatch(index) or int(index) >= len(params):
            raise CheckpointError(f"{at}: parameter index {index!r} is not one of the {len(params)} parameters of {name}")
        return int(index)

    scalars = _expect_object(meta["scalars"], f"{where}.scalars")
    for label, value in scalars.items():
        at = f"{where}.scalars[{label!r}]"
        index, _, key = label.partition("/")
        i = parameter(index, at)
        if key not in keys:
            raise CheckpointError(f"{at}: unknown state {key!r} ({kind} keeps {', '.join(keys)})")
        if key == "step":
            _expect_number(value, at, low=1, integer=True)
        elif params[i][1].shape != ():
            raise CheckpointError(f"{at}: the state of parameter {params[i][0]} {list(params[i][1].shape)} must be an array, not a number")
        else:
            if not _is_number(value):
                raise CheckpointError(f"{at} must be a number, got {_kind(value)}")
            if not _finite(value):
                raise CheckpointError(f"{at} is {value!r} (not finite): the run diverged before this save")
        present.setdefault(i, {})[key] = "meta"
    mine: set[str] = set()
    head = f"optimizer/{name}/"
    for array in sorted(n for n in headers if n.startswith(head)):
        index, _, key = array[len(head) :].partition("/")
        i = parameter(index, f"array {array}")
        if key not in keys or key == "step":
            raise CheckpointError(f"array {array}: unknown state {key!r} ({kind} keeps arrays {', '.join(k for k in keys if k != 'step')})")
        shape, dtype = headers[array]
        entry = params[i][1]
        if tuple(shape) != entry.shape or not _same_kind(dtype, entry.dtype):
            raise CheckpointError(f"array {array} is {_describe(shape, dtype)} but its parameter {params[i][0]} is {_describe(entry.shape, entry.dtype)}")
        if key in present.get(i, {}):
            raise CheckpointError(f"array {array}: the state is also in {where}.scalars")
        present.setdefault(i, {})[key] = "array"
        mine.add(array)
    for i, found in present.items():
        if set(found) != set(keys):
            lacking = [k for k in keys if k not in found]
            raise CheckpointError(f"{name} optimiser state of parameter {i} ({params[i][0]}) lacks {', '.join(lacking)}")
    return mine


# --------------------------------------------------------------------------------- reading


def _refuse_by_first_bytes(path: pathlib.Path, head: bytes) -> None:
    if not head:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): truncated or corrupt")
    if head.startswith(_NPY_MAGIC):
        raise CheckpointError(f"checkpoint {path} is a single NumPy array (an .npy file), not an .npz checkpoint written by nploss train")
    if head[:1] == b"\x80" or head.startswith((b"(dp", b"(lp", b"ccopy_reg")):
        raise CheckpointError(f"checkpoint {path} is a pickle, not an .npz checkpoint: it is refused unread (nploss never unpickles)")
    if not head.startswith(_ZIP_MAGIC):
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt: not a zip archive (.npz); it starts with {head[:8]!r}")


def _read_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    with archive.open(info) as fp:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(fp)
        else:
            raise CheckpointError(f"array {info.filename[:-4]} has .npy format version {version}, which checkpoints never use")
        offset = fp.tell()
    name = info.filename[:-4]
    if dtype.hasobject:
        raise CheckpointError(f"array {name} holds pickled Python objects (dtype {dtype}); a checkpoint never does, and nploss never unpickles")
    if dtype.names is not None or dtype.subdtype is not None or dtype.kind not in "fiuU":
        raise CheckpointError(f"array {name} has dtype {dtype}; a checkpoint holds numbers (and the meta string)")
    nbytes = math.prod(shape) * dtype.itemsize
    if info.file_size != offset + nbytes:
        raise CheckpointError(f"array {name} is truncated or corrupt: its header says {nbytes} bytes of data, the archive holds {info.file_size - offset}")
    return tuple(shape), dtype


def _read_meta(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    if shape != () or dtype.kind != "U":
        raise CheckpointError(f"'meta' must be a JSON string, got an array of {dtype.name}{list(shape)}")
    if dtype.itemsize // 4 > MAX_META_CHARS:
        raise CheckpointError(f"'meta' is {dtype.itemsize // 4} characters long, more than the {MAX_META_CHARS} a checkpoint's meta may have")
    with archive.open(info) as fp:
        text = str(np.lib.format.read_array(fp, allow_pickle=False)[()])
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise CheckpointError(f"'meta' is not valid JSON ({type(error).__name__}: {str(error)[:200]})") from None


def _check_finite(name: str, array: np.ndarray) -> None:
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        nan, inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
        what = " and ".join(p for p in (f"{nan} NaN" * bool(nan), f"{inf} infinite" * bool(inf)) if p)
        raise CheckpointError(f"array {name} holds {what} value{'s' * (nan + inf > 1)} of {array.size}: the run diverged before this save, so it can be neither evaluated nor resumed")


@contextlib.contextmanager
def _corrupt_as_checkpoint_error(path: pathlib.Path) -> typing.Iterator[None]:
    """Whatever the zip and ``.npy`` readers raise on a damaged file (BadZipFile, a bad CRC, zlib
    errors, EOF, the header parser's ValueError or TokenError, ...) as a CheckpointError."""
    try:
        yield
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure to parse the bytes is a corrupt file
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt ({type(error).__name__}: {error})") from None


def load(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` of a checkpoint after the checks of the module docstring; any bad file
    is a :class:`CheckpointError` whose message names the file and what is wrong with it."""
    path = pathlib.Path(path)
    if path.name.endswith(".partial"):
        raise CheckpointError(
            f"{path} is an unfinished checkpoint left by an interrupted save and is never read; "
            f"load {path.with_name(path.name[: -len('.partial')])} instead"
        )
    if not path.exists():
        hint = f" ({partial_path(path).name} beside it is an unfinished save from an interrupted run, never read)" if partial_path(path).exists() else ""
        raise CheckpointError(f"checkpoint {path} does not exist{hint}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
        _refuse_by_first_bytes(path, head)
        with _corrupt_as_checkpoint_error(path), zipfile.ZipFile(path) as archive:
            infos = {}
            for info in archive.infolist():
                if not info.filename.endswith(".npy") or info.is_dir():
                    raise CheckpointError(f"member {info.filename!r} is not an .npy array; a checkpoint holds nothing else")
                if info.filename[:-4] in infos:
                    raise CheckpointError(f"member {info.filename!r} appears twice")
                infos[info.filename[:-4]] = info
            if "meta" not in infos:
                raise CheckpointError(f"{path} is not an nploss checkpoint (no 'meta' entry)")
            headers = {name: _read_header(archive, info) for name, info in infos.items()}
            meta = _read_meta(archive, infos["meta"], *headers["meta"])
        validate(meta, headers)  # outside the net above: a bug in the schema is not a corrupt file
        with _corrupt_as_checkpoint_error(path), zipfile.ZipFile(path) as archive:
            arrays = {}
            for name, info in infos.items():
                if name != "meta":
                    with archive.open(info) as fp:
                        arrays[name] = np.lib.format.read_array(fp, allow_pickle=False)
        for name, array in arrays.items():
            _check_finite(name, array)
    except CheckpointError as error:
        message = str(error)
        raise CheckpointError(message if str(path) in message else f"checkpoint {path}: {message}") from None
    except OSError as error:  # unreadable (permissions, I/O error)
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(error).__name__}: {error})") from None
    return arrays, meta


def restore(arrays: dict[str, np.ndarray], meta: dict[str, Any], model: Any, optimizers: dict[str, Any], extra_modules: dict[str, Any] | None = None) -> None:
    """Load what :func:`save` wrote into freshly built objects of the same configuration."""
    def part(prefix: str) -> dict[str, np.ndarray]:
        head = prefix + "/"
        return {k[len(head) :]: v for k, v in arrays.items() if k.startswith(head)}

    try:
        model.load_state_dict(part("model"))
        for prefix, module in (extra_modules or {}).items():
            module.load_state_dict(part(prefix))
        for name, opt in optimizers.items():
            opt.load_state_dict(_unflatten_optimizer(name, meta["optimizers"][name], arrays))
    except (KeyError, ValueError) as error:
        raise CheckpointError(f"checkpoint does not fit this model: {error}") from None
