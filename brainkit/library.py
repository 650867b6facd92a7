"""The model library: models are data (YAML files of Brian2 equation strings with units).

A model file holds one model::

    name: lif
    kind: neuron                 # neuron | synapse | plasticity
    title: Leaky integrate-and-fire neuron
    reference: Lapicque (1907); Gerstner et al., Neuronal Dynamics (2014), ch. 1.3
    description: |
      tau_m dv/dt = E_L - v + R I ...
    equations: |
      dv/dt = (E_L - v + R*I)/tau_m : volt (unless refractory)
    threshold: v > V_th
    reset: v = V_r
    refractory: t_ref
    method: exact
    input: {name: I, unit: amp}  # neurons: the variable synaptic/external input is summed into
    parameters:                  # every value is a Brian2 expression with units
      tau_m: 10*ms
    initial: {v: E_L}
    constraints:                 # optional: every parameter set must satisfy these
      - V_r < V_th
    variants:                    # named parameter sets (e.g. Izhikevich firing patterns)
      fast_spiking: {a: 0.1/ms}

The shipped library is the ``models/`` folder (the ``brainkit.models`` package); a user adds
their own model files with :func:`add_model_path` or loads one by path.  Every problem in a file
is a :class:`ModelError` naming the file, the line and what is wrong.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np
import yaml

LIBRARY_DIR = Path(__file__).resolve().parent.parent / "models"
try:  # installed layout: the models folder is the brainkit.models package
    import brainkit.models as _models_pkg  # noqa: F401  (a package of data files)

    LIBRARY_DIR = Path(_models_pkg.__file__).resolve().parent
except ImportError:  # pragma: no cover - source layout without install
    pass

KINDS = ("neuron", "synapse", "plasticity")
_REQUIRED = {"name", "kind", "title", "reference", "description", "equations"}
_KNOWN_KEYS = _REQUIRED | {
    "threshold", "reset", "refractory", "method", "input", "voltage", "parameters", "initial",
    "variants", "on_pre", "on_post", "post_equations", "pre_equations", "current", "target",
    "events", "differentiable", "weight_parameters", "constraints",
}
#: placeholders in a synapse's equations that the network fills in with the unit the target
#: (``{WEIGHT_UNIT}``) or source (``{GATE_UNIT}``: 1 / its voltage unit) neuron gives them
GATE_UNIT, WEIGHT_UNIT = "{GATE_UNIT}", "{WEIGHT_UNIT}"
#: keys of a neuron's ``input`` and ``voltage`` entries
INPUT_KEYS, VOLTAGE_KEYS = ("name", "unit"), ("name", "distance", "width")
_user_paths: List[Path] = []


class ModelError(ValueError):
    """A model file or model equation is wrong; the message names file, line and problem."""

    def __init__(self, message: str, path: Optional[Union[str, Path]] = None,
                 line: Optional[int] = None):
        where = ""
        if path is not None:
            where = f"{path}" + (f", line {line}" if line is not None else "") + ": "
        super().__init__(where + message)
        self.path = str(path) if path is not None else None
        self.line = line


def add_model_path(path: Union[str, Path]) -> None:
    """Add a folder of user model files (``*.yaml``) searched before the shipped library."""
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"model folder {p} does not exist")
    if p not in _user_paths:
        _user_paths.insert(0, p)


def _model_files() -> Dict[str, Path]:
    files: Dict[str, Path] = {}
    for root in [LIBRARY_DIR] + list(reversed(_user_paths)):  # user paths override
        for f in sorted(root.rglob("*.yaml")):
            files[f.stem] = f
    return files


def list_models(kind: Optional[str] = None) -> List[str]:
    """Names of all models (of one ``kind``: neuron, synapse or plasticity)."""
    names = sorted(_model_files())
    if kind is None:
        return names
    return [n for n in names if load_model(n).kind == kind]


def _key_lines(text: str, path) -> Dict[str, int]:
    """1-based line of every key (``a``, ``a.b``) in a YAML mapping document."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ModelError(f"not valid YAML: {getattr(exc, 'problem', exc)}", path, line) from None
    lines: Dict[str, int] = {}

    def walk(node, prefix):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = f"{prefix}{k.value}"
                lines[key] = k.start_mark.line + 1
                # block scalars (|) start on the next line
                lines[key + "#value"] = v.start_mark.line + (
                    2 if getattr(v, "style", None) in ("|", ">") else 1)
                walk(v, key + ".")

    walk(root, "")
    return lines


@dataclass
class Model:
    """One model of the library, with its parameters as Brian2 quantities.

    Attributes mirror the file's keys.  ``parameters`` maps names to Brian2 Quantities (or
    floats), ``initial`` maps state variables to expressions (strings) or quantities.
    """

    name: str
    kind: str
    title: str
    reference: str
    description: str
    equations: str
    parameters: Dict[str, Any] = field(default_factory=dict)
    initial: Dict[str, Any] = field(default_factory=dict)
    threshold: Optional[str] = None
    reset: Optional[str] = None
    refractory: Any = None
    method: Optional[str] = None
    input: Optional[Dict[str, str]] = None
    voltage: Optional[Dict[str, str]] = None
    on_pre: Optional[str] = None
    on_post: Optional[str] = None
    post_equations: Optional[str] = None
    pre_equations: Optional[str] = None
    current: Optional[str] = None
    target: Optional[str] = None
    events: Optional[Dict[str, str]] = None
    differentiable: Optional[bool] = None
    weight_parameters: List[str] = field(default_factory=list)
    constraints: List[str] = field(default_factory=list)
    variants: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    variant: Optional[str] = None
    path: Optional[str] = None
    lines: Dict[str, int] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ helpers
    def line_of(self, key: str, offset: int = 0) -> Optional[int]:
        """Line in the model file of ``key`` (``offset`` lines into a block value)."""
        if f"{key}#value" in self.lines:
            return self.lines[f"{key}#value"] + offset
        return self.lines.get(key)

    def error(self, key: str, message: str, offset: int = 0) -> ModelError:
        return ModelError(f"model '{self.name}', {key}: {message}", self.path,
                          self.line_of(key, offset))

    def brian2_equations(self, key: str = "equations", check: bool = False, **substitutions):
        """The ``key`` equation string as :class:`brian2.Equations` (errors point at the line).
        Placeholders filled in by the network builder (``{GATE_UNIT}``, ``{WEIGHT_UNIT}``) parse
        as ``1`` when ``check`` is set."""
        from brian2 import Equations
        from brian2.equations.equations import EquationError

        text = getattr(self, key)
        if check:
            text = fill_unit_placeholders(text)
        try:
            return Equations(text, **substitutions)
        except (EquationError, SyntaxError, ValueError, TypeError) as exc:
            raise self._equation_error(key, text, exc) from None

    def _equation_error(self, key, text, exc) -> ModelError:
        msg = str(exc)
        # find the equation line Brian2 complains about
        offset = 0
        for i, line in enumerate(text.splitlines()):
            stripped = line.strip()
            if stripped and (stripped in msg or msg.strip().split("\n")[-1].strip() in stripped):
                offset = i
                break
        else:
            offset = _first_bad_line(text)
        bad = text.splitlines()[offset].strip() if text.splitlines() else text
        return self.error(key, f"equation '{bad}' does not parse: {msg.splitlines()[0]}",
                          offset)

    def with_parameters(self, **overrides) -> "Model":
        """A copy with parameters overridden; each value must have the default's units and
        the result must satisfy the model's ``constraints``."""
        m = copy.deepcopy(self)
        m.parameters.update(_check_overrides(self, overrides))
        m.check_constraints()
        return m

    def check_constraints(self) -> None:
        """Raise :class:`ModelError` if a parameter set breaks one of the file's
        ``constraints`` (boolean expressions of the parameters, e.g. ``tau_rise < tau_decay``):
        the error names the constraint, its line and the values of the parameters in it."""
        import re

        for k, expr in enumerate(self.constraints):
            try:
                ok = bool(evaluate_expression(expr, self.parameters))
            except Exception as exc:  # noqa: BLE001 - report any evaluation problem
                raise self.error("constraints", f"constraint '{expr}' cannot be evaluated: "
                                                f"{exc}", k) from None
            if not ok:
                names = [n for n in dict.fromkeys(re.findall(r"[A-Za-z_]\w*", expr))
                         if n in self.parameters]
                values = ", ".join(f"{n} = {self.parameters[n]!r}" for n in names)
                raise self.error("constraints", f"parameters break the constraint '{expr}' "
                                                f"({values})", k)

    def namespace(self) -> Dict[str, Any]:
        """Parameter values by name, ready to pass as a Brian2 ``namespace``."""
        return dict(self.parameters)


def _first_bad_line(text: str) -> int:
    from brian2 import Equations

    for i, line in enumerate(text.splitlines()):
        if not line.strip() or line.strip().startswith("#"):
            continue
        try:
            Equations(line)
        except Exception:  # noqa: BLE001 - we only look for the line that fails
            return i
    return 0


def fill_unit_placeholders(text: str, gate_unit: str = "1", weight_unit: str = "1") -> str:
    """``text`` with :data:`GATE_UNIT` and :data:`WEIGHT_UNIT` replaced by unit strings."""
    return text.replace(GATE_UNIT, gate_unit).replace(WEIGHT_UNIT, weight_unit)


def _check_entry(data: Dict[str, Any], key: str, keys, path, lines) -> None:
    """A neuron's ``input``/``voltage`` entry: a mapping of exactly ``keys`` to strings."""
    value = data.get(key)
    if value is None:
        return
    if (not isinstance(value, dict) or set(value) != set(keys)
            or not all(isinstance(v, str) for v in value.values())):
        raise ModelError(f"'{key}' must be a mapping {{{', '.join(keys)}}} of strings, got "
                         f"{value!r}", path, lines.get(key))


def evaluate_expression(expr, names: Mapping[str, Any]):
    """Evaluate a parameter value written as a Brian2 expression with units."""
    if not isinstance(expr, str):
        return expr
    scope = dict(_unit_scope())
    scope.update(names)
    return eval(expr, {"__builtins__": {}}, scope)  # noqa: S307 - model files are trusted data


def _unit_scope():
    import brian2
    from brian2.units.fundamentalunits import Quantity

    scope = {k: v for k, v in vars(brian2).items()
             if isinstance(v, Quantity) and not k.startswith("_")}
    scope.update({k: getattr(np, k) for k in ("pi", "exp", "log", "sqrt", "cos", "sin")})
    return scope


def _check_overrides(model: Model, overrides: Mapping[str, Any]) -> Dict[str, Any]:
    from brian2.units.fundamentalunits import get_dimensions, have_same_dimensions

    checked = {}
    for name, value in overrides.items():
        if name not in model.parameters:
            raise ModelError(
                f"model '{model.name}' has no parameter '{name}' "
                f"(its parameters: {', '.join(sorted(model.parameters))})")
        value = evaluate_expression(value, model.parameters) if isinstance(value, str) else value
        default = model.parameters[name]
        if not have_same_dimensions(value, default):
            raise ModelError(
                f"model '{model.name}', parameter '{name}': {value!r} has units "
                f"{get_dimensions(value)!s}, expected the units of the default {default!r} "
                f"({get_dimensions(default)!s})")
        checked[name] = value
    return checked


def _parse(text: str, path: Path) -> Model:
    lines = _key_lines(text, path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # pragma: no cover - compose() above raised already
        raise ModelError(f"not valid YAML: {exc}", path) from None
    if not isinstance(data, dict):
        raise ModelError("a model file must be a mapping of keys (name, kind, equations, ...)",
                         path, 1)
    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise ModelError(f"unknown key '{key}' (known keys: {', '.join(sorted(_KNOWN_KEYS))})",
                         path, lines.get(key))
    missing = _REQUIRED - set(data)
    if missing:
        raise ModelError(f"missing key(s): {', '.join(sorted(missing))}", path, 1)
    if data["kind"] not in KINDS:
        raise ModelError(f"kind '{data['kind']}' is not one of {', '.join(KINDS)}", path,
                         lines.get("kind"))
    if data["name"] != path.stem:
        raise ModelError(f"name '{data['name']}' differs from the file name '{path.stem}'",
                         path, lines.get("name"))
    _check_entry(data, "input", INPUT_KEYS, path, lines)
    _check_entry(data, "voltage", VOLTAGE_KEYS, path, lines)
    raw_params = data.pop("parameters", None) or {}
    raw_variants = data.pop("variants", None) or {}
    model = Model(**data, path=str(path), lines=lines)

    params: Dict[str, Any] = {}
    for name, expr in raw_params.items():
        try:
            params[name] = evaluate_expression(expr, params)
        except Exception as exc:  # noqa: BLE001 - report any evaluation problem with its line
            raise ModelError(f"parameter '{name}' = {expr!r} cannot be evaluated: {exc}", path,
                             lines.get(f"parameters.{name}")) from None
    model.parameters = params
    for vname, vparams in raw_variants.items():
        try:
            evaluated = {k: evaluate_expression(v, params) for k, v in (vparams or {}).items()}
            model.variants[vname] = _check_overrides(model, evaluated)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"variant '{vname}': {exc}", path,
                             lines.get(f"variants.{vname}")) from None
    for key in ("equations", "post_equations", "pre_equations"):
        if getattr(model, key):  # parse now: a ModelError names the line
            model.brian2_equations(key, check=True)
    if not isinstance(model.constraints, list) or not all(
            isinstance(c, str) for c in model.constraints):
        raise ModelError("constraints must be a list of expressions of the parameters", path,
                         lines.get("constraints"))
    model.check_constraints()
    return model


def load_model(name_or_path: Union[str, Path], variant: Optional[str] = None,
               **overrides) -> Model:
    """Load a model by name (``'lif'``) or by file path, optionally a named ``variant``
    (e.g. ``'izhikevich', variant='chattering'``) and parameter overrides with units.

    Raises
    ------
    ModelError
        unknown name (with close matches), malformed file (file and line), unit mismatch.
    """
    p = Path(str(name_or_path))
    if p.suffix in (".yaml", ".yml") or os.sep in str(name_or_path):
        if not p.is_file():
            raise ModelError(f"model file {p} does not exist")
        path = p
    else:
        files = _model_files()
        if str(name_or_path) not in files:
            import difflib

            close = difflib.get_close_matches(str(name_or_path), list(files), n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ModelError(f"no model named '{name_or_path}' in the library{hint} "
                             f"(available: {', '.join(sorted(files))})")
        path = files[str(name_or_path)]
    model = _parse(path.read_text(), path)
    if variant is not None:
        if variant not in model.variants:
            raise ModelError(f"model '{model.name}' has no variant '{variant}' "
                             f"(variants: {', '.join(sorted(model.variants)) or 'none'})", path)
        model.parameters.update(model.variants[variant])
        model.variant = variant
        model.check_constraints()
    if overrides:
        model = model.with_parameters(**overrides)
    return model

