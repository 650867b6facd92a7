"""The network file: one self-describing HDF5 file per (trained or hand-built) network.

A :class:`NetworkSpec` holds everything an exporter needs: the populations (model name, Brian2
equation strings, parameters with units), the connections as dense weight matrices, the
input channels, the readouts and free-form (JSON-able) metadata.

HDF5 layout (``version = 1``)::

    /                       attrs: format='brainkit-network', version=1, dt (seconds),
                                   metadata (JSON string)
    /populations/<name>     attrs: model, n, equations, threshold, reset, refractory, method
                            (absent attribute = None)
        parameters/<p>      dataset: value in SI units; attrs: unit (e.g. 'volt'), dim (7 SI
                            exponents: m, kg, s, A, K, mol, cd), kind ('quantity'|'number'|'str')
        initial/<v>         the same, for initial values (an expression is kind 'str')
    /connections/<name>     attrs: pre, post, synapse, weight_unit; dataset ``weights``
                            (n_pre, n_post) float64; group ``parameters`` as above
    /inputs/<name>          attrs: n, kind; group ``parameters`` as above
    /readouts/<name>        attrs: population, variable; datasets ``weights`` (n_out, n_pop)
                            and optional ``bias`` (n_out,)

Checksums: every dataset carries ``sha256`` (hex SHA-256 of its dtype, shape and bytes) and the
root carries ``checksum`` (``'sha256:'`` + hex SHA-256 over the name, dtype, shape and bytes of
every dataset and the name and value of every attribute of every group and dataset, in name
order, except ``checksum`` itself).  :func:`load_network` recomputes both and refuses a file
whose content changed after it was written (flipped bits in the weights, an edited attribute),
naming the dataset when its own checksum fails.  Files without ``checksum`` (written before
brainkit stored it) load unchecked.

Every parameter loads back as a Brian2 Quantity (or a plain float/array when dimensionless and
stored as a number).  :func:`save_network` writes to a temporary file in the target folder and
renames it into place, so a reader never sees a half-written file.  :func:`load_network` raises
:class:`NetworkFileError` naming the file and the group/key for missing, corrupt or truncated
files and for unknown formats or versions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np

from .fileio import atomic_write

FORMAT = "brainkit-network"
VERSION = 1
CHECKSUM_ATTR, DATASET_CHECKSUM_ATTR = "checksum", "sha256"
_SI_NAMES = ("metre", "kilogram", "second", "amp", "kelvin", "mole", "candela")


class NetworkFileError(ValueError):
    """A network file (or the spec about to be written) is missing, corrupt or inconsistent;
    the message names the file and the group/key."""


# --------------------------------------------------------------------------- specs
@dataclass
class PopulationSpec:
    """``n`` neurons of library model ``model`` (its Brian2 equations copied in)."""

    name: str
    model: str
    n: int
    equations: str
    threshold: Optional[str] = None
    reset: Optional[str] = None
    refractory: Optional[str] = None
    method: Optional[str] = None
    parameters: Dict[str, Any] = field(default_factory=dict)
    initial: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ConnectionSpec:
    """Dense projection ``pre -> post`` through synapse model ``synapse``.

    ``weights[i, j]`` is the weight from presynaptic ``i`` to postsynaptic ``j`` (0 = no
    synapse), in the unit ``weight_unit`` (a Brian2 unit name, ``'1'`` if dimensionless).
    ``synapse='current'`` is a dense projection of analog input channels.
    """

    name: str
    pre: str
    post: str
    synapse: str
    weights: np.ndarray
    weight_unit: str = "1"
    parameters: Dict[str, Any] = field(default_factory=dict)


@dataclass
class InputSpec:
    """``n`` input channels: ``kind`` 'current' (analog), 'spikes' or 'poisson'.
    ``parameters`` (optional) holds what drives them (e.g. Poisson ``rates``)."""

    name: str
    n: int
    kind: str
    parameters: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ReadoutSpec:
    """Linear readout ``y = weights @ population.variable + bias``."""

    name: str
    population: str
    variable: str
    weights: np.ndarray
    bias: Optional[np.ndarray] = None


@dataclass
class NetworkSpec:
    dt: Any
    populations: Dict[str, PopulationSpec] = field(default_factory=dict)
    connections: Dict[str, ConnectionSpec] = field(default_factory=dict)
    inputs: Dict[str, InputSpec] = field(default_factory=dict)
    readouts: Dict[str, ReadoutSpec] = field(default_factory=dict)
    metadata: Dict[str, Any] = field(default_factory=dict)

    def size(self, name: str) -> int:
        """Number of neurons/channels of population or input ``name``."""
        if name in self.populations:
            return int(self.populations[name].n)
        if name in self.inputs:
            return int(self.inputs[name].n)
        raise NetworkFileError(f"no population or input named '{name}' (populations: "
                               f"{', '.join(self.populations) or 'none'}; inputs: "
                               f"{', '.join(self.inputs) or 'none'})")

    def validate(self, where: str = "network") -> None:
        """Check names, sizes and weight shapes; raise :class:`NetworkFileError`."""
        _dt_seconds(self.dt, where)
        for key, d in (("populations", self.populations), ("connections", self.connections),
                       ("inputs", self.inputs), ("readouts", self.readouts)):
            for name, s in d.items():
                if name != s.name:
                    raise NetworkFileError(f"{where}: {key}['{name}'] is named '{s.name}'")
                if not name or "/" in name:
                    raise NetworkFileError(f"{where}: {key} name {name!r} is empty or has '/'")
        both = set(self.populations) & set(self.inputs)
        if both:
            raise NetworkFileError(f"{where}: {sorted(both)} are both populations and inputs")
        for p in self.populations.values():
            if int(p.n) < 1:
                raise NetworkFileError(f"{where}: populations/{p.name}: n = {p.n} < 1")
        for i in self.inputs.values():
            if i.kind not in ("current", "spikes", "poisson"):
                raise NetworkFileError(f"{where}: inputs/{i.name}: kind '{i.kind}' is not "
                                       "'current', 'spikes' or 'poisson'")
        for c in self.connections.values():
            w = np.asarray(c.weights)
            if c.post not in self.populations:
                raise NetworkFileError(f"{where}: connections/{c.name}: target '{c.post}' is "
                                       "not a population")
            shape = (self.size(c.pre), self.size(c.post))
            if w.shape != shape:
                raise NetworkFileError(f"{where}: connections/{c.name}/weights has shape "
                                       f"{w.shape}, expected {shape} (n_pre, n_post)")
            if not np.all(np.isfinite(w.astype(float))):
                raise NetworkFileError(f"{where}: connections/{c.name}/weights contain NaN/inf")
        for r in self.readouts.values():
            if r.population not in self.populations:
                raise NetworkFileError(f"{where}: readouts/{r.name}: population "
                                       f"'{r.population}' does not exist")
            w = np.asarray(r.weights)
            n = self.size(r.population)
            if w.ndim != 2 or w.shape[1] != n:
                raise NetworkFileError(f"{where}: readouts/{r.name}/weights has shape "
                                       f"{w.shape}, expected (n_out, {n})")
            if r.bias is not None and np.shape(r.bias) != (w.shape[0],):
                raise NetworkFileError(f"{where}: readouts/{r.name}/bias has shape "
                                       f"{np.shape(r.bias)}, expected ({w.shape[0]},)")


# ------------------------------------------------------------------------- values
def _dt_seconds(dt, where) -> float:
    from brian2.units.fundamentalunits import DIMENSIONLESS, Quantity, get_dimensions

    if isinstance(dt, Quantity) and get_dimensions(dt) is not DIMENSIONLESS:
        if str(get_dimensions(dt)) != "s":
            raise NetworkFileError(f"{where}: dt = {dt!r} is not a time")
        value = float(dt)
    else:
        raise NetworkFileError(f"{where}: dt = {dt!r} must be a Brian2 time (e.g. 0.1*ms)")
    if not np.isfinite(value) or value <= 0:
        raise NetworkFileError(f"{where}: dt = {dt!r} must be positive")
    return value


def _write_value(group, name: str, value, where: str) -> None:
    from brian2 import get_unit
    from brian2.units.fundamentalunits import DIMENSIONLESS, Quantity, get_dimensions

    if isinstance(value, str):
        ds = group.create_dataset(name, data=value)
        ds.attrs["kind"] = "str"
        ds.attrs["unit"] = ""
        return
    if isinstance(value, Quantity):
        dim = get_dimensions(value)
        arr = np.asarray(value, dtype=float)
        unit = "1" if dim is DIMENSIONLESS else repr(get_unit(dim))
        kind = "quantity"
    else:
        try:
            arr = np.asarray(value)
        except Exception as exc:  # noqa: BLE001
            raise NetworkFileError(f"{where}/{name}: cannot store {type(value).__name__}: "
                                   f"{exc}") from None
        if arr.dtype.kind not in "biuf":
            raise NetworkFileError(f"{where}/{name}: value {value!r} is neither a number, an "
                                   "array of numbers, a Brian2 quantity nor a string")
        dim, unit, kind = DIMENSIONLESS, "1", "number"
        if arr.dtype.kind != "b":
            arr = arr.astype(float)
    ds = group.create_dataset(name, data=arr)
    ds.attrs["kind"] = kind
    ds.attrs["unit"] = unit
    ds.attrs["dim"] = np.array([float(dim._dims[k]) for k in range(7)])


def _read_value(ds, where: str):
    from brian2.units.fundamentalunits import Quantity, get_or_create_dimension

    kind = _attr(ds, "kind", where)
    if kind == "str":
        v = ds[()]
        return v.decode() if isinstance(v, bytes) else str(v)
    value = ds[()]
    if kind == "number":
        return value.item() if np.ndim(value) == 0 else np.asarray(value)
    if kind != "quantity":
        raise NetworkFileError(f"{where}: unknown value kind {kind!r}")
    dims = np.asarray(_attr(ds, "dim", where), dtype=float)
    if dims.shape != (7,):
        raise NetworkFileError(f"{where}: attribute 'dim' must hold 7 SI exponents")
    dim = get_or_create_dimension([float(x) for x in dims])
    return Quantity(value, dim=dim)


def _attr(obj, key, where, default=KeyError):
    if key not in obj.attrs:
        if default is KeyError:
            raise NetworkFileError(f"{where}: attribute '{key}' is missing")
        return default
    v = obj.attrs[key]
    if isinstance(v, bytes):
        v = v.decode()
    return v


def _str_or_none(obj, key, where):
    v = _attr(obj, key, where, default=None)
    return None if v is None else str(v)


def _write_dict(parent, name: str, values: Dict[str, Any], where: str) -> None:
    g = parent.create_group(name)
    for k, v in values.items():
        if not isinstance(k, str) or not k or "/" in k:
            raise NetworkFileError(f"{where}/{name}: key {k!r} must be a name without '/'")
        _write_value(g, k, v, f"{where}/{name}")


def _read_dict(parent, name: str, where: str, required: bool = True) -> Dict[str, Any]:
    if name not in parent:
        if required:
            raise NetworkFileError(f"{where}: group '{name}' is missing")
        return {}
    g = parent[name]
    return {k: _read_value(g[k], f"{where}/{name}/{k}") for k in g}


# ----------------------------------------------------------------------- save/load
def save_network(path: Union[str, Path], spec: NetworkSpec) -> Path:
    """Write ``spec`` to ``path`` (HDF5), atomically: a temporary file in the same folder is
    renamed onto ``path`` only once complete.  Returns the path.

    Raises
    ------
    NetworkFileError
        the spec is inconsistent (sizes, shapes, names) or holds values that cannot be stored;
        nothing is written then.
    """
    import h5py

    path = Path(path)
    spec.validate(where=str(path))
    try:
        meta = json.dumps(spec.metadata or {})
    except (TypeError, ValueError) as exc:
        raise NetworkFileError(f"{path}: metadata is not JSON-able: {exc}") from None
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["version"] = VERSION
            f.attrs["dt"] = _dt_seconds(spec.dt, str(path))
            f.attrs["metadata"] = meta
            root = f.create_group("populations")
            for p in spec.populations.values():
                where = f"{path}: populations/{p.name}"
                g = root.create_group(p.name)
                g.attrs["model"] = p.model
                g.attrs["n"] = int(p.n)
                g.attrs["equations"] = p.equations or ""
                for key in ("threshold", "reset", "refractory", "method"):
                    v = getattr(p, key)
                    if v is not None:
                        g.attrs[key] = _refractory_text(v) if key == "refractory" else str(v)
                _write_dict(g, "parameters", p.parameters, where)
                _write_dict(g, "initial", p.initial, where)
            root = f.create_group("connections")
            for c in spec.connections.values():
                where = f"{path}: connections/{c.name}"
                g = root.create_group(c.name)
                for key in ("pre", "post", "synapse", "weight_unit"):
                    g.attrs[key] = str(getattr(c, key))
                g.create_dataset("weights", data=np.asarray(c.weights, dtype=np.float64))
                _write_dict(g, "parameters", c.parameters, where)
            root = f.create_group("inputs")
            for i in spec.inputs.values():
                g = root.create_group(i.name)
                g.attrs["n"] = int(i.n)
                g.attrs["kind"] = i.kind
                _write_dict(g, "parameters", i.parameters, f"{path}: inputs/{i.name}")
            root = f.create_group("readouts")
            for r in spec.readouts.values():
                g = root.create_group(r.name)
                g.attrs["population"] = r.population
                g.attrs["variable"] = r.variable
                g.create_dataset("weights", data=np.asarray(r.weights, dtype=np.float64))
                if r.bias is not None:
                    g.create_dataset("bias", data=np.asarray(r.bias, dtype=np.float64))
            _write_checksums(f)
    return path


# ----------------------------------------------------------------------- checksums
def _canonical(value) -> bytes:
    """Bytes of an attribute or dataset value, independent of how h5py hands it back."""
    if isinstance(value, bytes):
        return b"b" + value
    if isinstance(value, str):
        return b"s" + value.encode("utf-8", "surrogatepass")
    arr = np.asarray(value)
    if arr.dtype.kind in "OSU":
        return b"O" + repr(arr.shape).encode() + b"".join(
            _framed(_canonical(x)) for x in arr.ravel().tolist())
    if arr.dtype.kind in "biu":
        arr = arr.astype("<i8")
    elif arr.dtype.kind == "f":
        arr = arr.astype("<f8")
    return arr.dtype.str.encode() + repr(arr.shape).encode() + np.ascontiguousarray(
        arr).tobytes()


def _framed(data: bytes) -> bytes:
    return len(data).to_bytes(8, "little") + data


def _dataset_digest(ds) -> str:
    h = hashlib.sha256()
    h.update(_framed(str(ds.dtype).encode()))
    h.update(_framed(repr(ds.shape).encode()))
    h.update(_framed(_canonical(ds[()])))
    return h.hexdigest()


def _file_digest(f) -> str:
    """SHA-256 over every dataset (name, dtype, shape, bytes) and every attribute (owner,
    name, value) of the open HDF5 file ``f``, except the root's ``checksum``."""
    import h5py

    names: list = []
    f.visit(names.append)
    h = hashlib.sha256()
    for name in [""] + sorted(names):
        obj = f[name] if name else f
        kind = b"D" if isinstance(obj, h5py.Dataset) else b"G"
        h.update(_framed(kind + name.encode("utf-8", "surrogatepass")))
        if kind == b"D":
            h.update(_framed(_canonical(obj[()])))
            h.update(_framed(str(obj.dtype).encode()))
        for key in sorted(obj.attrs):
            if name == "" and key == CHECKSUM_ATTR:
                continue
            h.update(_framed(b"A" + key.encode("utf-8", "surrogatepass")))
            h.update(_framed(_canonical(obj.attrs[key])))
    return "sha256:" + h.hexdigest()


def _datasets(f) -> list:
    import h5py

    found: list = []
    f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset)
                 else None)
    return sorted(found)


def _write_checksums(f) -> None:
    for name in _datasets(f):
        f[name].attrs[DATASET_CHECKSUM_ATTR] = _dataset_digest(f[name])
    f.attrs[CHECKSUM_ATTR] = _file_digest(f)


def _verify_checksums(f, path: Path) -> None:
    """Refuse a file whose content differs from what was written (files without a checksum
    load unchecked)."""
    if CHECKSUM_ATTR not in f.attrs:
        return
    stored = _attr(f, CHECKSUM_ATTR, f"{path}: /")
    if _file_digest(f) == stored:
        return
    bad = []
    for name in _datasets(f):
        ds = f[name]
        own = ds.attrs.get(DATASET_CHECKSUM_ATTR)
        own = own.decode() if isinstance(own, bytes) else own
        if own is None or own != _dataset_digest(ds):
            bad.append(name)
    if bad:
        listed = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise NetworkFileError(f"{path}: checksum mismatch in dataset {listed}: its data "
                               "changed after the file was written (damaged or edited file); "
                               "refusing to load it")
    raise NetworkFileError(f"{path}: checksum mismatch: the file's groups or attributes changed "
                           "after it was written (damaged or edited file); refusing to load it")


def _refractory_text(v) -> str:
    from brian2.units.fundamentalunits import Quantity

    if isinstance(v, Quantity):  # a duration: store it as an expression with units
        return f"{float(v)!r}*second"
    return str(v)


def load_network(path: Union[str, Path]) -> NetworkSpec:
    """Read a network file written by :func:`save_network`.

    Raises
    ------
    NetworkFileError
        the file is missing, is not HDF5 (corrupt or truncated), is not a brainkit network
        file, has an unknown version, or lacks a group/key; the message names file and key.
    """
    import h5py
    from brian2 import second

    path = Path(path)
    if not path.is_file():
        raise NetworkFileError(f"network file {path} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise NetworkFileError(f"{path}: not a readable HDF5 file (corrupt or truncated?): "
                               f"{exc}") from None
    try:
        with f:
            return _load(f, path, second)
    except NetworkFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        # h5py raises these for damaged datasets/attributes inside an openable file
        raise NetworkFileError(f"{path}: damaged network file: {type(exc).__name__}: "
                               f"{exc}") from None


def _load(f, path: Path, second) -> NetworkSpec:
    fmt = _attr(f, "format", f"{path}: /")
    if fmt != FORMAT:
        raise NetworkFileError(f"{path}: format {fmt!r} is not {FORMAT!r}")
    version = int(_attr(f, "version", f"{path}: /"))
    if version != VERSION:
        raise NetworkFileError(f"{path}: network file version {version} is not supported "
                               f"(this brainkit reads version {VERSION})")
    try:
        metadata = json.loads(_attr(f, "metadata", f"{path}: /"))
    except json.JSONDecodeError as exc:
        raise NetworkFileError(f"{path}: attribute 'metadata' is not valid JSON: {exc}") from None
    spec = NetworkSpec(dt=float(_attr(f, "dt", f"{path}: /")) * second, metadata=metadata)
    for key in ("populations", "connections", "inputs", "readouts"):
        if key not in f:
            raise NetworkFileError(f"{path}: group '/{key}' is missing")
    for name, g in f["populations"].items():
        where = f"{path}: populations/{name}"
        spec.populations[name] = PopulationSpec(
            name=name, model=str(_attr(g, "model", where)), n=int(_attr(g, "n", where)),
            equations=str(_attr(g, "equations", where)),
            threshold=_str_or_none(g, "threshold", where), reset=_str_or_none(g, "reset", where),
            refractory=_str_or_none(g, "refractory", where),
            method=_str_or_none(g, "method", where),
            parameters=_read_dict(g, "parameters", where),
            initial=_read_dict(g, "initial", where))
    for name, g in f["connections"].items():
        where = f"{path}: connections/{name}"
        if "weights" not in g:
            raise NetworkFileError(f"{where}: dataset 'weights' is missing")
        spec.connections[name] = ConnectionSpec(
            name=name, pre=str(_attr(g, "pre", where)), post=str(_attr(g, "post", where)),
            synapse=str(_attr(g, "synapse", where)),
            weights=np.asarray(g["weights"][()], dtype=np.float64),
            weight_unit=str(_attr(g, "weight_unit", where)),
            parameters=_read_dict(g, "parameters", where))
    for name, g in f["inputs"].items():
        where = f"{path}: inputs/{name}"
        spec.inputs[name] = InputSpec(name=name, n=int(_attr(g, "n", where)),
                                      kind=str(_attr(g, "kind", where)),
                                      parameters=_read_dict(g, "parameters", where,
                                                            required=False))
    for name, g in f["readouts"].items():
        where = f"{path}: readouts/{name}"
        if "weights" not in g:
            raise NetworkFileError(f"{where}: dataset 'weights' is missing")
        spec.readouts[name] = ReadoutSpec(
            name=name, population=str(_attr(g, "population", where)),
            variable=str(_attr(g, "variable", where)),
            weights=np.asarray(g["weights"][()], dtype=np.float64),
            bias=np.asarray(g["bias"][()], dtype=np.float64) if "bias" in g else None)
    _verify_checksums(f, path)
    spec.validate(where=str(path))
    return spec


__all__ = ["ConnectionSpec", "InputSpec", "NetworkFileError", "NetworkSpec", "PopulationSpec",
           "ReadoutSpec", "load_network", "save_network"]
