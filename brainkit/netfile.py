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

Checksums: the file starts with an HDF5 user block (ignored by HDF5 readers) that holds a
checksum record, plain text::

    brainkit-network-checksum 1
    userblock 4096              size of this block; the HDF5 file proper follows it
    length 28672                bytes in the whole file
    sha256 <hex>                SHA-256 of every byte after the block
    dataset <offset> <size> <hex> "<name>"   SHA-256 of each dataset's stored bytes
    end

:func:`load_network` checks the record against the file's bytes *before* the HDF5 library
reads the file, so a damaged file (flipped bits in the weights, a truncated or edited file) is
refused with an error naming it and, where its stored bytes changed, the dataset; it never
reaches HDF5 code that could misread, hang or crash on corrupt metadata.  Files without a
record (written before brainkit stored one, or by other tools) load unchecked.

Every parameter loads back as a Brian2 Quantity (or a plain float/array when dimensionless and
stored as a number).  :func:`save_network` writes to a temporary file in the target folder and
renames it into place, so a reader never sees a half-written file.  :func:`load_network` raises
:class:`NetworkFileError` naming the file and the group/key for missing, corrupt or truncated
files and for unknown formats or versions.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np

from .fileio import atomic_write

FORMAT = "brainkit-network"
VERSION = 1
CHECKSUM_MAGIC = b"brainkit-network-checksum 1\n"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
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
            if c.pre not in self.populations and c.pre not in self.inputs:
                raise NetworkFileError(f"{where}: connections/{c.name}: source '{c.pre}' is "
                                       "neither a population nor an input")
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
    import h5py
    from brian2.units.fundamentalunits import Quantity, get_or_create_dimension

    if not isinstance(ds, h5py.Dataset):
        raise NetworkFileError(f"{where}: expected a dataset, found a group")
    kind = _text(ds, "kind", where)
    value = ds[()]
    if kind == "str":
        if isinstance(value, bytes):
            try:
                return value.decode()
            except UnicodeDecodeError:
                raise NetworkFileError(f"{where}: text that is not UTF-8") from None
        if isinstance(value, str):
            return value
        raise NetworkFileError(f"{where}: kind 'str' but the value is not text")
    if kind not in ("number", "quantity"):
        raise NetworkFileError(f"{where}: unknown value kind {kind!r}")
    if np.asarray(value).dtype.kind not in "biuf":
        raise NetworkFileError(f"{where}: kind '{kind}' but the value is not a number "
                               f"(dtype {np.asarray(value).dtype})")
    if kind == "number":
        return value.item() if np.ndim(value) == 0 else np.asarray(value)
    dims = np.asarray(_attr(ds, "dim", where))
    if dims.shape != (7,) or dims.dtype.kind not in "iuf" or not np.all(np.isfinite(dims)):
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
        try:
            v = v.decode()
        except UnicodeDecodeError:
            raise NetworkFileError(f"{where}: attribute '{key}' is not UTF-8 text") from None
    return v


def _text(obj, key, where, default=KeyError):
    """A text attribute (``default`` when absent, if given)."""
    v = _attr(obj, key, where, default)
    if v is None and default is None:
        return None
    if not isinstance(v, str):
        raise NetworkFileError(f"{where}: attribute '{key}' must be text, got {v!r}"[:300])
    return v


def _int(obj, key, where) -> int:
    """An integer attribute (a population size, a version): a float like 2.7 is refused."""
    v = _attr(obj, key, where)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise NetworkFileError(f"{where}: attribute '{key}' must be an integer, got {v!r}"[:300])
    return int(v)


def _float(obj, key, where) -> float:
    v = _attr(obj, key, where)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                              np.floating)):
        raise NetworkFileError(f"{where}: attribute '{key}' must be a number, got {v!r}"[:300])
    return float(v)


def _str_or_none(obj, key, where):
    return _text(obj, key, where, default=None)


def _array(g, name, where) -> np.ndarray:
    """Dataset ``name`` of group ``g`` as float64 (it must exist and hold numbers)."""
    import h5py

    if name not in g:
        raise NetworkFileError(f"{where}: dataset '{name}' is missing")
    ds = g[name]
    if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "biuf":
        raise NetworkFileError(f"{where}/{name}: not an array of numbers")
    return np.asarray(ds[()], dtype=np.float64)


def _members(parent, key, where):
    """The groups in group ``key`` of ``parent`` as (name, group) pairs."""
    import h5py

    if key not in parent:
        raise NetworkFileError(f"{where}: group '/{key}' is missing")
    g = parent[key]
    if not isinstance(g, h5py.Group):
        raise NetworkFileError(f"{where}: '/{key}' is not a group")
    out = []
    for name, member in g.items():
        if not isinstance(member, h5py.Group):
            raise NetworkFileError(f"{where}: {key}/{name} is not a group")
        out.append((name, member))
    return out


def _write_dict(parent, name: str, values: Dict[str, Any], where: str) -> None:
    g = parent.create_group(name)
    for k, v in values.items():
        if not isinstance(k, str) or not k or "/" in k:
            raise NetworkFileError(f"{where}/{name}: key {k!r} must be a name without '/'")
        _write_value(g, k, v, f"{where}/{name}")


def _read_dict(parent, name: str, where: str, required: bool = True) -> Dict[str, Any]:
    import h5py

    if name not in parent:
        if required:
            raise NetworkFileError(f"{where}: group '{name}' is missing")
        return {}
    g = parent[name]
    if not isinstance(g, h5py.Group):
        raise NetworkFileError(f"{where}: '{name}' is not a group")
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
    path = Path(path)
    spec.validate(where=str(path))
    try:
        meta = json.dumps(spec.metadata or {})
    except (TypeError, ValueError) as exc:
        raise NetworkFileError(f"{path}: metadata is not JSON-able: {exc}") from None
    with atomic_write(path) as tmp:
        userblock = 4096
        while True:  # the checksum record must fit the user block: grow it if needed
            _write_hdf5(tmp, spec, path, meta, userblock)
            if _write_checksum_record(tmp, userblock):
                break
            userblock *= 4
    return path


def _write_hdf5(tmp: str, spec: NetworkSpec, path: Path, meta: str, userblock: int) -> None:
    import h5py

    with h5py.File(tmp, "w", userblock_size=userblock) as f:
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


# ----------------------------------------------------------------------- checksums
def _dataset_extents(tmp: str) -> list:
    """(offset, size, name) of the stored bytes of every dataset with contiguous storage."""
    import h5py

    found = []
    with h5py.File(tmp, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                offset = obj.id.get_offset()
                size = obj.id.get_storage_size()
                if offset is not None and size:
                    found.append((int(offset), int(size), name))
        f.visititems(visit)
    return sorted(found)


def _write_checksum_record(tmp: str, userblock: int) -> bool:
    """Write the checksum record into the user block of ``tmp``; False if it does not fit."""
    data = Path(tmp).read_bytes()
    lines = [CHECKSUM_MAGIC.decode().strip(), f"userblock {userblock}", f"length {len(data)}",
             f"sha256 {hashlib.sha256(data[userblock:]).hexdigest()}"]
    for offset, size, name in _dataset_extents(tmp):
        digest = hashlib.sha256(data[offset:offset + size]).hexdigest()
        lines.append(f"dataset {offset} {size} {digest} {json.dumps(name)}")
    record = ("\n".join(lines) + "\nend\n").encode()
    if len(record) > userblock:
        return False
    with open(tmp, "r+b") as fh:
        fh.write(record + bytes(userblock - len(record)))
    return True


def _verify_checksum_record(raw: bytes, path: Path) -> None:
    """Refuse ``raw`` (a network file's bytes) if they differ from its checksum record; a file
    without a record (an HDF5 file from before brainkit wrote one) passes unchecked."""
    if not raw.startswith(CHECKSUM_MAGIC):
        if raw.startswith(_HDF5_SIGNATURE):
            return  # no record: written before brainkit stored one, or by another tool
        size = 512
        while size + 8 <= len(raw):  # an HDF5 file behind a user block that is not a record
            if raw[size:size + 8] == _HDF5_SIGNATURE:
                raise NetworkFileError(f"{path}: its checksum record is damaged (the first "
                                       "bytes of the file changed); refusing to load it")
            size *= 2
        return  # not HDF5 at all: h5py says so
    damaged = NetworkFileError(f"{path}: its checksum record is damaged; refusing to load it")
    try:
        text = raw[:raw.index(b"\nend\n")].decode("ascii")
        lines = text.splitlines()[1:]
        fields = dict(line.split(" ", 1) for line in lines[:3])
        userblock, length = int(fields["userblock"]), int(fields["length"])
        digest = fields["sha256"]
        datasets = []
        for line in lines[3:]:
            kind, offset, size, ds_digest, name = line.split(" ", 4)
            if kind != "dataset":
                raise ValueError(line)
            datasets.append((int(offset), int(size), ds_digest, json.loads(name)))
    except (ValueError, KeyError, UnicodeDecodeError, json.JSONDecodeError):
        raise damaged from None
    if not (0 < userblock < len(raw) or userblock == len(raw) == 0) or len(digest) != 64:
        raise damaged
    if len(raw) == length and hashlib.sha256(raw[userblock:]).hexdigest() == digest:
        return
    if len(raw) < length:
        raise NetworkFileError(f"{path}: the file is truncated ({len(raw)} of {length} bytes); "
                               "refusing to load it")
    bad = [name for offset, size, ds_digest, name in datasets
           if hashlib.sha256(raw[offset:offset + size]).hexdigest() != ds_digest]
    if bad:
        listed = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise NetworkFileError(f"{path}: checksum mismatch in dataset {listed}: its data "
                               "changed after the file was written (damaged or edited file); "
                               "refusing to load it")
    raise NetworkFileError(f"{path}: checksum mismatch: the file changed after it was written "
                           "(damaged, or edited outside brainkit); refusing to load it")


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
        raw = path.read_bytes()
    except OSError as exc:
        raise NetworkFileError(f"{path}: cannot read the network file: {exc}") from None
    _verify_checksum_record(raw, path)
    try:  # HDF5 reads exactly the bytes that were checked
        f = h5py.File(io.BytesIO(raw), "r")
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
    top = f"{path}: /"
    fmt = _attr(f, "format", top)
    if fmt != FORMAT:
        raise NetworkFileError(f"{path}: format {fmt!r} is not {FORMAT!r}")
    version = _int(f, "version", top)
    if version != VERSION:
        raise NetworkFileError(f"{path}: network file version {version} is not supported "
                               f"(this brainkit reads version {VERSION})")
    try:
        metadata = json.loads(_text(f, "metadata", top))
    except json.JSONDecodeError as exc:
        raise NetworkFileError(f"{path}: attribute 'metadata' is not valid JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise NetworkFileError(f"{path}: attribute 'metadata' is not a JSON object")
    spec = NetworkSpec(dt=_float(f, "dt", top) * second, metadata=metadata)
    groups = {key: _members(f, key, str(path))
              for key in ("populations", "connections", "inputs", "readouts")}
    for name, g in groups["populations"]:
        where = f"{path}: populations/{name}"
        spec.populations[name] = PopulationSpec(
            name=name, model=_text(g, "model", where), n=_int(g, "n", where),
            equations=_text(g, "equations", where),
            threshold=_str_or_none(g, "threshold", where), reset=_str_or_none(g, "reset", where),
            refractory=_str_or_none(g, "refractory", where),
            method=_str_or_none(g, "method", where),
            parameters=_read_dict(g, "parameters", where),
            initial=_read_dict(g, "initial", where))
    for name, g in groups["connections"]:
        where = f"{path}: connections/{name}"
        weights = _array(g, "weights", where)
        spec.connections[name] = ConnectionSpec(
            name=name, pre=_text(g, "pre", where), post=_text(g, "post", where),
            synapse=_text(g, "synapse", where), weights=weights,
            weight_unit=_text(g, "weight_unit", where),
            parameters=_read_dict(g, "parameters", where))
    for name, g in groups["inputs"]:
        where = f"{path}: inputs/{name}"
        spec.inputs[name] = InputSpec(name=name, n=_int(g, "n", where),
                                      kind=_text(g, "kind", where),
                                      parameters=_read_dict(g, "parameters", where,
                                                            required=False))
    for name, g in groups["readouts"]:
        where = f"{path}: readouts/{name}"
        weights = _array(g, "weights", where)
        spec.readouts[name] = ReadoutSpec(
            name=name, population=_text(g, "population", where),
            variable=_text(g, "variable", where), weights=weights,
            bias=_array(g, "bias", where) if "bias" in g else None)
    spec.validate(where=str(path))
    return spec


__all__ = ["ConnectionSpec", "InputSpec", "NetworkFileError", "NetworkSpec", "PopulationSpec",
           "ReadoutSpec", "load_network", "save_network"]
