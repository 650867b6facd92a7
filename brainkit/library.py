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
      tau_m: '> 0'               # parameter: condition (or a list of conditions)
      V_r: '< V_th'
    variants:                    # named parameter sets (e.g. Izhikevich firing patterns)
      fast_spiking: {a: 0.1/ms}

``constraints`` may also be a list of boolean expressions of the parameters
(``- tau_rise < tau_decay``).  They hold for the file's parameters, for every variant and for
every override (:func:`load_model` ``(name, **overrides)``, :meth:`Model.with_parameters`).

The shipped library is the ``models/`` folder (the ``brainkit.models`` package); a user adds
their own model files with :func:`add_model_path` or loads one by path.

A file is validated when it is loaded, without simulating anything: its equations are parsed
by Brian2 (:class:`brian2.Equations`) and every equation, condition and statement is checked
for units by Brian2's unit checker with the parameters as namespace; every identifier must be
a variable of the model's equations, a parameter, the neuron's ``input`` variable, a name
Brian2 gives every group (``t``, ``dt``, ``i``, ``N``, ``lastspike``, ``xi``, ...) or a Brian2
function, constant or unit.  A synapse or plasticity model may also name the neurons it
connects: ``NAME_pre``/``NAME_post``, ``v`` (the target's voltage), the weight ``w`` (a
plasticity rule), the gated synapse's ``V``, ``dVdt``, ``zone_distance``, ``zone_width``, and
the names the file lists under ``neuron_names`` (variables and parameters of the neuron model
its neuron-side blocks are added to, e.g. e-prop's ``tau_m``, ``v_th``); the units of those
come from the neuron model, so expressions with them are checked by Brian2
when the network is built.  Parameters must be finite numbers or quantities.  Every problem
is a :class:`ModelError` naming the file, the line and what is wrong.  Validated files are
cached by content, so loading a model again costs a copy.
"""

from __future__ import annotations

import ast
import copy
import os
import re
import warnings
from collections import ChainMap, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

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
    "events", "differentiable", "weight_parameters", "constraints", "neuron_names",
}
#: keys whose value is text (an equation block, a condition, statements or prose)
_TEXT_KEYS = ("name", "kind", "title", "reference", "description", "equations", "threshold",
              "reset", "refractory", "method", "on_pre", "on_post", "post_equations",
              "pre_equations", "current", "target")
#: placeholders in a synapse's equations that the network fills in with the unit the target
#: (``{WEIGHT_UNIT}``) or source (``{GATE_UNIT}``: 1 / its voltage unit) neuron gives them
GATE_UNIT, WEIGHT_UNIT = "{GATE_UNIT}", "{WEIGHT_UNIT}"
#: keys of a neuron's ``input`` and ``voltage`` entries
INPUT_KEYS, VOLTAGE_KEYS = ("name", "unit"), ("name", "distance", "width")
#: names a synapse or plasticity file may use for the neurons it connects (bare, besides any
#: ``NAME_pre`` / ``NAME_post``); their units are the neuron model's
NEURON_SIDE_NAMES = ("v", "V", "dVdt", "zone_distance", "zone_width")
_user_paths: List[Path] = []
_CACHE: "OrderedDict[Tuple[str, str], Model]" = OrderedDict()
_CACHE_SIZE = 256


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
    """Names of all model files; with ``kind`` (neuron, synapse or plasticity) the names of
    the models of that kind.  Listing by kind loads every file: a file that does not load is
    left out with a warning naming it and its error (loading it raises the
    :class:`ModelError`), so one bad user file does not hide the rest of the library."""
    files = _model_files()
    names = sorted(files)
    if kind is None:
        return names
    found = []
    for n in names:
        try:
            m = load_model(n)
        except ModelError as exc:
            warnings.warn(f"model file {files[n]} left out of list_models(kind={kind!r}): {exc}",
                          stacklevel=2)
            continue
        if m.kind == kind:
            found.append(n)
    return found


def _read_yaml(text: str, path) -> Tuple[Any, Dict[str, int]]:
    """The YAML document ``text`` and the 1-based line of every key (``a``, ``a.b``) and list
    item (``a[0]``) in it (``a#value``: the line its value starts on)."""
    Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed
    loader = Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ModelError(f"not valid YAML: {getattr(exc, 'problem', None) or exc}", path,
                         line) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date that is no date
        raise ModelError(f"not valid YAML: {exc}", path) from None
    finally:
        loader.dispose()
    lines: Dict[str, int] = {}

    def walk(node, prefix):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = f"{prefix}{getattr(k, 'value', k)}"
                if key in lines:
                    raise ModelError(f"key '{key}' appears twice (lines {lines[key]} and "
                                     f"{k.start_mark.line + 1})", path, k.start_mark.line + 1)
                lines[key] = k.start_mark.line + 1
                # block scalars (|) start on the next line
                lines.setdefault(key + "#value", v.start_mark.line + (
                    2 if getattr(v, "style", None) in ("|", ">") else 1))
                walk(v, key + ".")
        elif isinstance(node, yaml.SequenceNode) and prefix:
            for i, item in enumerate(node.value):
                lines.setdefault(f"{prefix[:-1]}[{i}]", item.start_mark.line + 1)

    walk(root, "")
    return data, lines


@dataclass
class Model:
    """One model of the library, with its parameters as Brian2 quantities.

    Attributes mirror the file's keys.  ``parameters`` maps names to Brian2 Quantities (or
    floats), ``initial`` maps state variables to expressions (strings) or quantities;
    ``constraints`` is a list of boolean expressions of the parameters (a file's
    ``{name: condition}`` entries become ``'name condition'``).
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
    neuron_names: List[str] = field(default_factory=list)
    constraints: List[str] = field(default_factory=list)
    variants: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    variant: Optional[str] = None
    path: Optional[str] = None
    lines: Dict[str, int] = field(default_factory=dict, repr=False)
    constraint_lines: List[Optional[int]] = field(default_factory=list, repr=False)

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
        except (EquationError, SyntaxError, ValueError, TypeError, KeyError) as exc:
            raise self._equation_error(key, text, exc) from None

    def _equation_error(self, key, text, exc) -> ModelError:
        msg = str(exc) or type(exc).__name__
        # find the equation line Brian2 complains about
        offset = 0
        last = msg.strip().split("\n")[-1].strip()
        for i, line in enumerate(text.splitlines()):
            stripped = line.strip()
            if stripped and (stripped in msg or (last and last in stripped)):
                offset = i
                break
        else:
            offset = _first_bad_line(text)
        lines = text.splitlines()
        bad = lines[offset].strip() if offset < len(lines) else text.strip()
        return self.error(key, f"equation '{bad}' does not parse: {msg.splitlines()[0]}",
                          offset)

    def with_parameters(self, **overrides) -> "Model":
        """A copy with parameters overridden; each value must have the default's units, must
        not be NaN and must keep the model's ``constraints`` (infinity is allowed here, e.g.
        ``vth = inf`` for a neuron that never fires, but not in a file)."""
        m = copy.deepcopy(self)
        m.parameters.update(_check_overrides(self, overrides))
        m.check_constraints()
        return m

    def check_constraints(self, parameters: Optional[Mapping[str, Any]] = None,
                          label: str = "") -> None:
        """Raise :class:`ModelError` if ``parameters`` (default: the model's) break one of the
        file's ``constraints`` (boolean expressions of the parameters, e.g. ``tau_m > 0``,
        ``tau_rise < tau_decay``): the error names the constraint, its line and the values of
        the parameters in it (``label`` says whose parameters, e.g. a variant)."""
        params = self.parameters if parameters is None else parameters
        for k, expr in enumerate(self.constraints):
            line = self.constraint_lines[k] if k < len(self.constraint_lines) else \
                self.line_of("constraints", k)
            try:
                with np.errstate(all="ignore"):
                    ok = bool(np.all(np.asarray(evaluate_expression(expr, params))))
            except Exception as exc:  # noqa: BLE001 - report any evaluation problem
                raise ModelError(f"model '{self.name}', constraints{label}: constraint '{expr}' "
                                 f"cannot be evaluated: {exc}", self.path, line) from None
            if not ok:
                names = [n for n in dict.fromkeys(re.findall(r"[A-Za-z_]\w*", expr))
                         if n in params]
                values = ", ".join(f"{n} = {params[n]!r}" for n in names)
                raise ModelError(f"model '{self.name}', constraints{label}: parameters break the "
                                 f"constraint '{expr}' ({values})", self.path, line)

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


# --------------------------------------------------------------- parameter values
_EVAL_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call,
               ast.Name, ast.Load, ast.Constant, ast.operator, ast.unaryop, ast.boolop,
               ast.cmpop)
_EVAL_REFUSED_OPS = (ast.LShift, ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.MatMult)


class _FloatPowers(ast.NodeTransformer):
    """Integers under ``**`` become floats: ``9**9**9`` overflows at once instead of
    computing a 370-million-digit integer."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow):
            for side in ("left", "right"):
                node_side = getattr(node, side)
                for sub in ast.walk(node_side):
                    if isinstance(sub, ast.Constant) and type(sub.value) is int:
                        sub.value = float(sub.value)
        return node


#: the largest exponent of a constant power in an equation: Brian2 hands equations to sympy,
#: which computes ``9**9**9`` exactly (forever)
MAX_CONSTANT_EXPONENT = 1000


def _huge_power(expr: str) -> Optional[str]:
    """The first ``a**b`` of constants in ``expr`` with ``|b| > MAX_CONSTANT_EXPONENT`` (as
    text), or None (also for text that is no Python expression: Brian2 refuses it anyway)."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return None

    def constant(node):
        """The value of a tree of numbers and arithmetic (floats: never hangs), or None."""
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = constant(node.operand)
            return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
        if isinstance(node, ast.BinOp):
            a, b = constant(node.left), constant(node.right)
            ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
                   ast.Div: lambda: a / b, ast.Pow: lambda: a ** b}
            if a is None or b is None or type(node.op) not in ops:
                return None
            try:
                return float(ops[type(node.op)]())
            except (ZeroDivisionError, OverflowError, TypeError):  # TypeError: complex
                return float("inf")
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = constant(node.right)
            if exponent is not None and (not np.isfinite(exponent)
                                         or abs(exponent) > MAX_CONSTANT_EXPONENT):
                return ast.unparse(node)
    return None


def evaluate_expression(expr, names: Mapping[str, Any]):
    """Evaluate a parameter value written as a Brian2 expression with units (numbers, units,
    ``+ - * / ** %``, comparisons, ``and``/``or``/``not``, calls of ``exp``, ``log``,
    ``sqrt``, ``sin``, ``cos``; ``pi``, the Brian2 units and ``names``).  Anything else
    (attributes, strings, subscripts, ...) is refused with a ValueError."""
    if not isinstance(expr, str):
        return expr
    tree = ast.parse(expr.strip(), mode="eval")
    for node in ast.walk(tree):
        if (not isinstance(node, _EVAL_NODES) or isinstance(node, _EVAL_REFUSED_OPS)
                or (isinstance(node, ast.Constant)
                    and not isinstance(node.value, (int, float, bool)))
                or (isinstance(node, ast.Call)
                    and (not isinstance(node.func, ast.Name) or node.keywords))):
            raise ValueError(f"'{expr}' is not an expression of numbers, units and parameters "
                             f"(found {type(node).__name__})")
    tree = ast.fix_missing_locations(_FloatPowers().visit(tree))
    scope = dict(_unit_scope())
    scope.update(names)
    return eval(compile(tree, "<expression>", "eval"),  # noqa: S307 - checked above
                {"__builtins__": {}}, scope)


_UNIT_SCOPE: Dict[str, Any] = {}


def _unit_scope():
    if not _UNIT_SCOPE:
        import brian2
        from brian2.units.fundamentalunits import Quantity

        _UNIT_SCOPE.update({k: v for k, v in vars(brian2).items()
                            if isinstance(v, Quantity) and not k.startswith("_")})
        _UNIT_SCOPE.update({k: getattr(np, k)
                            for k in ("pi", "exp", "log", "sqrt", "cos", "sin")})
    return _UNIT_SCOPE


def _value_problem(value, allow_inf: bool = False) -> Optional[str]:
    """Why ``value`` cannot be a parameter (not a number, array or quantity; NaN; infinite
    unless ``allow_inf``), or None."""
    from brian2.units.fundamentalunits import Quantity

    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, str) or not isinstance(value, (int, float, np.number, np.ndarray,
                                                        Quantity)):
        return f"is not a number or a quantity ({type(value).__name__})"
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        return f"is not a number or a quantity (dtype {arr.dtype})"
    if np.any(np.isnan(arr)):
        return "is not a number (NaN)"
    if not allow_inf and not np.all(np.isfinite(arr)):
        return "is infinite"
    return None


def _check_overrides(model: Model, overrides: Mapping[str, Any],
                     in_file: bool = False) -> Dict[str, Any]:
    """``overrides`` of ``model``'s parameters, checked: known names, default's units, never
    NaN; infinite values only from code (``vth = inf``: a neuron that never fires), not in a
    file (``in_file``: a variant)."""
    from brian2.units.fundamentalunits import get_dimensions, have_same_dimensions

    checked = {}
    for name, value in overrides.items():
        if name not in model.parameters:
            raise ModelError(
                f"model '{model.name}' has no parameter '{name}' "
                f"(its parameters: {', '.join(sorted(model.parameters))})")
        if isinstance(value, str):
            try:
                with np.errstate(all="ignore"):
                    value = evaluate_expression(value, model.parameters)
            except Exception as exc:  # noqa: BLE001 - report any evaluation problem
                raise ModelError(f"model '{model.name}', parameter '{name}' = {value!r} cannot "
                                 f"be evaluated: {exc}") from None
        problem = _value_problem(value, allow_inf=not in_file)
        if problem is not None:
            raise ModelError(f"model '{model.name}', parameter '{name}': {value!r} {problem}")
        default = model.parameters[name]
        if not have_same_dimensions(value, default):
            raise ModelError(
                f"model '{model.name}', parameter '{name}': {value!r} has units "
                f"{get_dimensions(value)!s}, expected the units of the default {default!r} "
                f"({get_dimensions(default)!s})")
        checked[name] = value
    return checked


# -------------------------------------------------------------------- the file
def _check_types(data: Dict[str, Any], path: Path, lines) -> None:
    """Every key's value has the type the loader expects."""
    def bad(key, what):
        raise ModelError(f"'{key}' must be {what}, got {type(data[key]).__name__} "
                         f"{data[key]!r}"[:300], path, lines.get(key))

    for key in _TEXT_KEYS:
        if key in data and data[key] is not None and not isinstance(data[key], str):
            if key == "refractory":
                bad(key, "an expression: a duration (t_ref, 2*ms) or a condition (v > V_th)")
            bad(key, "text")
    for key in _REQUIRED:
        if not (data.get(key) or "").strip():
            raise ModelError(f"'{key}' is empty", path, lines.get(key))
    for key in ("parameters", "initial", "variants", "events"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            bad(key, "a mapping")
        for k, v in (data.get(key) or {}).items():
            if not isinstance(k, str) or not k.isidentifier():
                raise ModelError(f"{key}: {k!r} is not a name", path,
                                 lines.get(f"{key}.{k}", lines.get(key)))
            if key == "variants" and v is not None and not isinstance(v, dict):
                raise ModelError(f"variant '{k}' must be a mapping of parameter values", path,
                                 lines.get(f"variants.{k}"))
            if key == "events" and not isinstance(v, str):
                raise ModelError(f"event '{k}' must be text (a condition or statements)",
                                 path, lines.get(f"events.{k}"))
            if key in ("parameters", "initial") and isinstance(v, (dict, list)):
                raise ModelError(f"{key}: '{k}' must be a value, got {v!r}"[:300], path,
                                 lines.get(f"{key}.{k}"))
    for key in ("weight_parameters", "neuron_names"):
        names = data.get(key)
        if names is not None and (not isinstance(names, list)
                                  or not all(isinstance(x, str) for x in names)):
            bad(key, "a list of names")
    if data.get("neuron_names") and data.get("kind") == "neuron":
        bad("neuron_names", "only for synapse and plasticity models (the names of the neuron "
                            "model their neuron-side blocks use)")
    if "differentiable" in data and not isinstance(data["differentiable"], (bool, type(None))):
        bad("differentiable", "true or false")


def _constraints(data: Dict[str, Any], params: Mapping[str, Any], path: Path,
                 lines) -> Tuple[List[str], List[Optional[int]]]:
    """The file's ``constraints`` (a list of expressions or a ``{parameter: condition(s)}``
    mapping) as expressions with their lines."""
    raw = data.get("constraints")
    if raw is None:
        return [], []
    exprs, where = [], []
    if isinstance(raw, list):
        for k, c in enumerate(raw):
            if not isinstance(c, str):
                raise ModelError("constraints must be expressions of the parameters "
                                 f"(e.g. tau_rise < tau_decay), got {c!r}", path,
                                 lines.get(f"constraints[{k}]", lines.get("constraints")))
            exprs.append(c)
            where.append(lines.get(f"constraints[{k}]", lines.get("constraints")))
        return exprs, where
    if not isinstance(raw, dict):
        raise ModelError("constraints must be a mapping {parameter: condition} (e.g. "
                         "tau_m: '> 0') or a list of expressions", path,
                         lines.get("constraints"))
    for name, conds in raw.items():
        line = lines.get(f"constraints.{name}", lines.get("constraints"))
        if name not in params:
            raise ModelError(f"constraint on '{name}', which is not a parameter (parameters: "
                             f"{', '.join(sorted(params)) or 'none'})", path, line)
        for cond in conds if isinstance(conds, list) else [conds]:
            if not isinstance(cond, str) or not re.match(r"\s*(<=|>=|<|>|!=|==)", cond):
                raise ModelError(f"constraint on '{name}': {cond!r} must be a comparison such "
                                 "as '> 0' or '< tau_decay' (quoted in YAML)", path, line)
            exprs.append(f"{name} {cond.strip()}")
            where.append(line)
    return exprs, where


def _parse(text: str, path: Path) -> Model:
    data, lines = _read_yaml(text, path)
    if not isinstance(data, dict):
        raise ModelError("a model file must be a mapping of keys (name, kind, equations, ...)",
                         path, 1)
    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise ModelError(f"unknown key '{key}' (known keys: {', '.join(sorted(_KNOWN_KEYS))})",
                         path, lines.get(key))
    missing = _REQUIRED - set(data)
    if missing:
        raise ModelError(f"missing key(s): {', '.join(sorted(missing))}", path, 1)
    _check_types(data, path, lines)
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
    raw_constraints = data.pop("constraints", None)
    model = Model(**{k: v for k, v in data.items()}, path=str(path), lines=lines)
    model.initial = model.initial or {}
    model.weight_parameters = model.weight_parameters or []
    model.neuron_names = model.neuron_names or []

    params: Dict[str, Any] = {}
    for name, expr in raw_params.items():
        line = lines.get(f"parameters.{name}")
        try:
            with np.errstate(all="ignore"):
                value = evaluate_expression(expr, params)
        except Exception as exc:  # noqa: BLE001 - report any evaluation problem with its line
            raise ModelError(f"parameter '{name}' = {expr!r} cannot be evaluated: {exc}", path,
                             line) from None
        problem = _value_problem(value)
        if problem is not None:
            what = f"evaluates to {value!r}, which" if isinstance(expr, str) else ""
            raise ModelError(f"parameter '{name}' = {expr!r} {what} {problem}".replace("  ", " "),
                             path, line)
        params[name] = value
    model.parameters = params
    model.constraints, model.constraint_lines = _constraints(
        {"constraints": raw_constraints}, params, path, lines)
    for vname, vparams in raw_variants.items():
        try:
            with np.errstate(all="ignore"):
                evaluated = {k: evaluate_expression(v, params)
                             for k, v in (vparams or {}).items()}
            model.variants[vname] = _check_overrides(model, evaluated, in_file=True)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"variant '{vname}': {exc}", path,
                             lines.get(f"variants.{vname}")) from None
    for key in ("equations", "post_equations", "pre_equations"):
        if getattr(model, key):
            _check_powers(model, key)
            model.brian2_equations(key, check=True)  # parse now: a ModelError names the line
    _validate(model)
    model.check_constraints()
    for vname, vparams in model.variants.items():
        model.check_constraints({**params, **vparams}, label=f" (variant '{vname}')")
    return model


def _check_powers(model: Model, key: str) -> None:
    """Refuse a huge constant power in an equation block before Brian2 (sympy) evaluates it:
    each line's expression is what Brian2 reads, the text between '=' and ':'."""
    for offset, line in enumerate(getattr(model, key).splitlines()):
        code = line.split("#")[0]
        if "**" not in code or "=" not in code:
            continue
        expr = code.split("=", 1)[1].split(":", 1)[0]
        huge = _huge_power(expr)
        if huge:
            raise model.error(key, f"'{huge}' in '{code.strip()}': an exponent beyond "
                                   f"{MAX_CONSTANT_EXPONENT}", offset)


def load_model(name_or_path: Union[str, Path], variant: Optional[str] = None,
               **overrides) -> Model:
    """Load a model by name (``'lif'``) or by file path, optionally a named ``variant``
    (e.g. ``'izhikevich', variant='chattering'``) and parameter overrides with units.

    Raises
    ------
    ModelError
        unknown name (with close matches), malformed file (file and line), an equation or
        statement Brian2 refuses (units, undefined names), a parameter that is not finite,
        a unit mismatch or a broken constraint (in the file or in ``overrides``).
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
    model = _load_file(path)
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


def _load_file(path: Path) -> Model:
    """The validated model of file ``path`` (a fresh copy; cached by the file's content)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read the model file: {exc}", path) from None
    key = (str(path), text)
    if key in _CACHE:
        _CACHE.move_to_end(key)
    else:
        _CACHE[key] = _parse(text, path)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return copy.deepcopy(_CACHE[key])


# ------------------------------------------------------------------- validation
_UNKNOWN = object()  # a name of the connected neuron: its unit is the neuron model's


def _group_names(kind: str) -> Dict[str, Any]:
    """Names Brian2 gives every group of ``kind`` (neuron: NeuronGroup; synapse and
    plasticity: Synapses) with their dimensions."""
    from brian2 import second
    from brian2.units.fundamentalunits import DIMENSIONLESS

    s, one = second.dim, DIMENSIONLESS
    names = {"t": s, "dt": s, "t_in_timesteps": one, "i": one, "N": one}
    if kind == "neuron":
        names.update(lastspike=s, not_refractory=one)
    else:
        names.update(j=one, N_pre=one, N_post=one, N_incoming=one, N_outgoing=one,
                     lastupdate=s, delay=s)
    return names


def _unit_text(dim) -> str:
    """A dimension as a unit a reader recognises (``V``, ``V/s``, ``1``)."""
    from brian2 import get_unit, second
    from brian2.units.fundamentalunits import DIMENSIONLESS

    if dim is DIMENSIONLESS:
        return "1"

    def simple(d):
        u = str(get_unit(d))
        return u if not re.search(r"[ ^]", u) else None

    if simple(dim):
        return simple(dim)
    if simple(dim * second.dim):
        return f"{simple(dim * second.dim)}/s"
    if simple(dim / second.dim):
        return f"{simple(dim / second.dim)}*s"
    return str(dim)


def _defined_lines(text: str) -> Dict[str, int]:
    """Line (0-based, within ``text``) where each equation variable is defined."""
    where: Dict[str, int] = {}
    for k, line in enumerate(text.splitlines()):
        code = line.split("#")[0]
        m = re.match(r"\s*d\s*(\w+)\s*/\s*dt\s*=", code) or re.match(r"\s*(\w+)\s*[=:]", code)
        if m:
            where.setdefault(m.group(1), k)
    return where


_BASE_SCOPE: Dict[str, Any] = {}  # Brian2's units, functions and constants


def _stand_in(dim):
    """A value with dimensions ``dim`` for Brian2's unit checker."""
    from brian2.units.fundamentalunits import Quantity

    return Quantity(1.0, dim=dim)


class _Scope:
    """What every identifier of one model file means, for Brian2's unit checker."""

    def __init__(self, model: Model, equations: Dict[str, Any]):
        from brian2 import second
        from brian2.core.namespace import DEFAULT_CONSTANTS, DEFAULT_FUNCTIONS, DEFAULT_UNITS
        from brian2.units.fundamentalunits import get_dimensions

        self.model = model
        self.kind = model.kind
        if not _BASE_SCOPE:
            _BASE_SCOPE.update(DEFAULT_UNITS)
            _BASE_SCOPE.update(DEFAULT_FUNCTIONS)
            _BASE_SCOPE.update(DEFAULT_CONSTANTS)
        self.group = _group_names(model.kind)
        self.own: Dict[str, Any] = {}  # the file's own names: parameters, variables, input
        for name, value in model.parameters.items():
            self.own[name] = _stand_in(get_dimensions(value))
        self.variables: Dict[str, Any] = {}
        for eqs in equations.values():
            for name in eqs.names:
                self.variables[name] = _stand_in(eqs.dimensions[name])
        self.own.update(self.variables)
        if model.input:
            self.own[model.input["name"]] = _stand_in(get_dimensions(_input_unit(model)))
        self.table = ChainMap(self.own, {n: _stand_in(d) for n, d in self.group.items()},
                              _BASE_SCOPE)
        self.noise_dim = (second ** -0.5).dim

    def resolve(self, name: str):
        """The Brian2 object (variable, unit, function) ``name`` stands for, ``_UNKNOWN`` for a
        name of a connected neuron, None if it means nothing here."""
        if name in self.table:
            return self.table[name]
        if name == "xi" or name.startswith("xi_"):
            return _stand_in(self.noise_dim)
        if self.kind == "neuron":
            return None
        if name in NEURON_SIDE_NAMES or name in self.model.neuron_names or (
                self.kind == "plasticity" and name == "w"):
            return _UNKNOWN
        for suffix in ("_pre", "_post"):
            if name.endswith(suffix) and len(name) > len(suffix):
                stem = name[: -len(suffix)]
                if stem in self.variables:
                    return self.variables[stem]
                if stem in ("lastspike", "not_refractory", "i", "N"):
                    return _stand_in(_group_names("neuron")[stem])
                return _UNKNOWN  # a variable of the connected neuron model
        return None

    def known_names(self) -> List[str]:
        return sorted(self.own)


def _input_unit(model: Model):
    try:
        unit = evaluate_expression(model.input["unit"], {})
    except Exception as exc:  # noqa: BLE001
        raise model.error("input", f"unit '{model.input['unit']}' is not a Brian2 unit: "
                                   f"{exc}") from None
    if _value_problem(unit) is not None:
        raise model.error("input", f"unit '{model.input['unit']}' is not a Brian2 unit")
    return unit


def _dims(model: Model, scope: _Scope, key: str, expr: str, offset: int, shown: str):
    """Dimensions of ``expr`` (in block ``key``, ``offset`` lines in; ``shown`` is the line
    to quote) by Brian2's unit checker, None if it involves a name of a connected neuron.
    Raises ModelError for undefined names, syntax and inconsistent units."""
    import difflib

    from brian2.parsing.expressions import parse_expression_dimensions
    from brian2.units.fundamentalunits import DimensionMismatchError
    from brian2.utils.stringtools import get_identifiers

    try:
        ast.parse(expr.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise model.error(key, f"'{shown}' does not parse: {getattr(exc, 'msg', exc)}",
                          offset) from None
    huge = _huge_power(expr)
    if huge:
        raise model.error(key, f"'{huge}' in '{shown}': an exponent beyond "
                               f"{MAX_CONSTANT_EXPONENT}", offset)
    table, unknown = {}, False
    for name in sorted(get_identifiers(expr)):
        obj = scope.resolve(name)
        if obj is None:
            close = difflib.get_close_matches(name, scope.known_names(), n=2)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            inp = f", the input {model.input['name']}" if model.input else ""
            raise model.error(key, f"undefined identifier '{name}' in '{shown}': not a variable "
                                   f"of the model's equations, a parameter{inp}, nor a Brian2 "
                                   f"function, constant or unit{hint}", offset)
        if obj is _UNKNOWN:
            unknown = True
        else:
            table[name] = obj
    if unknown:
        return None
    try:
        return parse_expression_dimensions(expr.strip(), table)
    except DimensionMismatchError as exc:
        raise model.error(key, f"units do not match in '{shown}': {exc.desc}"
                               f"{_parameters_in(model, expr)}", offset) from None
    except (SyntaxError, KeyError, ValueError, TypeError, AttributeError) as exc:
        msg = getattr(exc, "msg", None) or str(exc)
        raise model.error(key, f"'{shown}' is not a Brian2 expression: {msg}",
                          offset) from None


def _parameters_in(model: Model, expr: str) -> str:
    """`` (with tau_m = 10. mV, line 21, ...)``: the parameters an expression uses."""
    from brian2.utils.stringtools import get_identifiers

    used = [n for n in sorted(get_identifiers(expr)) if n in model.parameters]
    if not used:
        return ""
    parts = []
    for n in used:
        line = model.lines.get(f"parameters.{n}")
        parts.append(f"{n} = {model.parameters[n]!s}" + (f" (line {line})" if line else ""))
    return " [parameters: " + ", ".join(parts) + "]"


def _expect(model, scope, key, expr, offset, shown, expected, what,
            lhs="the right-hand side"):
    """``expr`` (``lhs``) must have dimensions ``expected`` (``what`` names the
    requirement)."""
    from brian2.units.fundamentalunits import have_same_dimensions

    got = _dims(model, scope, key, expr, offset, shown)
    if got is not None and not have_same_dimensions(got, expected):
        raise model.error(key, f"units do not match in '{shown}': {lhs} is in "
                               f"{_unit_text(got)}, {what} {_unit_text(expected)}"
                               f"{_parameters_in(model, expr)}", offset)


def _check_equation_block(model: Model, scope: _Scope, key: str, eqs) -> None:
    from brian2.equations.equations import DIFFERENTIAL_EQUATION, SUBEXPRESSION
    from brian2 import second

    text = fill_unit_placeholders(getattr(model, key))
    where = _defined_lines(text)
    lines = text.splitlines()
    for name, eq in eqs.items():
        offset = where.get(name, 0)
        shown = lines[offset].split("#")[0].strip() if offset < len(lines) else name
        if eq.type == DIFFERENTIAL_EQUATION:
            _expect(model, scope, key, eq.expr.code, offset, shown, eq.dim / second.dim,
                    f"d{name}/dt must be in")
        elif eq.type == SUBEXPRESSION:
            _expect(model, scope, key, eq.expr.code, offset, shown, eq.dim,
                    f"{name} must be in")


def _is_condition(expr: str) -> bool:
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return True  # _dims reports it
    return not isinstance(node, (ast.BinOp, ast.Call)) and not (
        isinstance(node, ast.Constant) and not isinstance(node.value, bool))


def _check_condition(model, scope, key, expr, offset=0) -> None:
    shown = expr.strip()
    _dims(model, scope, key, expr, offset, shown)
    if not _is_condition(expr):
        raise model.error(key, f"'{shown}' is not a condition (e.g. v > V_th)", offset)


def _check_statements(model: Model, scope: _Scope, key: str, text: str,
                      conditions: bool = False) -> None:
    """Statements (``v = V_r``, ``w += b``), one per line or separated by ``;``; with
    ``conditions`` a block may instead be one condition (a custom event)."""
    from brian2.parsing.statements import parse_statement
    from brian2.units.fundamentalunits import DIMENSIONLESS, have_same_dimensions

    temporaries: Dict[str, Any] = {}
    for offset, line in enumerate(text.splitlines()):
        for stmt in line.split("#")[0].split(";"):
            stmt = stmt.strip()
            if not stmt:
                continue
            try:
                var, op, expr, _ = parse_statement(stmt)
            except (ValueError, SyntaxError, TypeError):
                if conditions:
                    _check_condition(model, scope, key, stmt, offset)
                    continue
                raise model.error(key, f"'{stmt}' is not a statement (e.g. v = V_r, "
                                       "w += 1)", offset) from None
            if op not in ("=", "+=", "-=", "*=", "/="):
                raise model.error(key, f"'{stmt}': operator '{op}' is not allowed here",
                                  offset)
            scope.own.update(temporaries)
            target = scope.resolve(var)
            if target is None and op != "=":
                _dims(model, scope, key, var, offset, stmt)  # undefined identifier
            rhs = _dims(model, scope, key, expr, offset, stmt)
            if target is None:  # a new temporary (e.g. biexp_norm = ...)
                temporaries[var] = _UNKNOWN if rhs is None else _stand_in(rhs)
                continue
            if target is _UNKNOWN or rhs is None:
                continue
            if op in ("*=", "/="):
                expected, what = DIMENSIONLESS, f"'{op}' needs a number, not"
            else:
                expected = _dimensions(target)
            if not have_same_dimensions(rhs, expected):
                if op in ("*=", "/="):
                    raise model.error(key, f"units do not match in '{stmt}': {op} needs a "
                                           f"dimensionless factor, got {_unit_text(rhs)}"
                                           f"{_parameters_in(model, expr)}", offset)
                raise model.error(key, f"units do not match in '{stmt}': the right-hand side "
                                       f"is in {_unit_text(rhs)}, {var} is in "
                                       f"{_unit_text(expected)}{_parameters_in(model, expr)}",
                                  offset)
    for name in temporaries:
        scope.own.pop(name, None)


def _validate(model: Model) -> None:
    """Check the model file with Brian2, without simulating: units of every equation,
    condition and statement; every identifier defined; initial values, the refractory
    period, the method and the entries that name variables."""
    from brian2 import second
    from brian2.stateupdaters.base import StateUpdateMethod
    from brian2.units.fundamentalunits import have_same_dimensions

    equations = {key: model.brian2_equations(key, check=True)
                 for key in ("equations", "post_equations", "pre_equations")
                 if getattr(model, key)}
    clash = sorted(set(model.parameters) & {n for e in equations.values() for n in e.names})
    if clash:
        raise model.error(f"parameters.{clash[0]}", f"parameter '{clash[0]}' has the name of a "
                                                    "variable of the equations")
    scope = _Scope(model, equations)
    for key, eqs in equations.items():
        _check_equation_block(model, scope, key, eqs)
    if model.method is not None:
        methods = [m.strip() for m in model.method.split(",")]
        for m in methods:
            if m not in StateUpdateMethod.stateupdaters:
                raise model.error("method", f"'{m}' is not a Brian2 integration method "
                                            f"({', '.join(StateUpdateMethod.stateupdaters)})")
    if model.threshold is not None:
        _check_condition(model, scope, "threshold", model.threshold)
    if model.refractory is not None:
        shown = model.refractory.strip()
        got = _dims(model, scope, "refractory", model.refractory, 0, shown)
        if got is not None and not _is_condition(model.refractory) \
                and not have_same_dimensions(got, second):
            raise model.error("refractory", f"'{shown}' is in {_unit_text(got)}: the "
                                            "refractory period must be a duration (e.g. "
                                            "t_ref, 2*ms) or a condition (e.g. v > V_th)")
    for key in ("reset", "on_pre", "on_post", "target"):
        if getattr(model, key):
            _check_statements(model, scope, key, getattr(model, key))
    for name, code in (model.events or {}).items():
        _check_statements(model, scope, f"events.{name}", code, conditions=True)
    if model.current:
        _dims(model, scope, "current", model.current, 0, model.current.strip())
    variables = scope.variables
    for name, value in model.initial.items():
        key = f"initial.{name}"
        if name not in variables:
            raise model.error(key, f"initial value for '{name}', which is not a variable of the "
                                   f"equations ({', '.join(sorted(variables)) or 'none'})")
        if isinstance(value, str):
            shown = f"{name} = {value.strip()}"
            if value.strip() != "0":
                _expect(model, scope, key, value, 0, shown, _dimensions(variables[name]),
                        f"{name} is in", lhs="the initial value")
        else:
            problem = _value_problem(value)
            if problem is not None:
                raise model.error(key, f"initial value {value!r} {problem}")
            if (not have_same_dimensions(value, _dimensions(variables[name]))
                    and np.any(np.asarray(value) != 0)):
                raise model.error(key, f"initial value {value!r} is in "
                                       f"{_unit_text(_dimensions(value))}, {name} is in "
                                       f"{_unit_text(_dimensions(variables[name]))}")
    for key in ("input", "voltage"):
        entry = getattr(model, key) or {}
        if entry and not entry["name"].isidentifier():
            raise model.error(key, f"name '{entry['name']}' is not a valid variable name")
    if model.voltage:
        vname = model.voltage["name"]
        eqs = equations.get("equations")
        if eqs is None or vname not in eqs.diff_eq_names:
            raise model.error("voltage", f"voltage '{vname}' is not a variable with a "
                                         "differential equation")
        for part in ("distance", "width"):
            expr = model.voltage[part]
            _expect(model, scope, "voltage", expr, 0, f"{part}: {expr}", eqs.dimensions[vname],
                    f"the voltage {vname} is in", lhs=f"the {part}")
    for name in model.weight_parameters:
        if name not in model.parameters:
            raise model.error("weight_parameters", f"weight parameter '{name}' is not a "
                                                   "parameter")
        if not _dimensions(model.parameters[name]).is_dimensionless:
            raise model.error(f"parameters.{name}", f"weight parameter '{name}' = "
                                                    f"{model.parameters[name]!s} must be a plain "
                                                    "number (it takes the unit of the synapse's "
                                                    "weight w)")


def _dimensions(value):
    from brian2.units.fundamentalunits import get_dimensions

    return get_dimensions(value)
