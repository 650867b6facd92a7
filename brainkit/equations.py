"""Equation composition: library models' equation strings turned into the Brian2 equations of
one network's groups.

A synapse model adds equations to the neurons it connects: its ``post_equations`` (e.g. an
exponential current ``dg/dt = -g/tau``) to the target group, its ``pre_equations`` (the gated
synapse's trace) to the source group.  Two connections of one model into one group must not
share variables, so every connection suffixes the model's own names (``g`` -> ``g_c0``) and
writes its parameters in as values.

=================================  ==========================================================
:func:`weight_unit`                unit of a synapse model's weight ``w``
:func:`unit_string`                a unit as it is written in an equation (``'1'`` for none)
:func:`owned_names`                variables a synapse model adds to neuron groups
:func:`suffix_names`               statements with those variables suffixed
:func:`post_equations`             the synapse's target-side equations, suffixed
:func:`pre_equations`              the synapse's source-side equations, written for a neuron
:func:`scale_weight_parameters`    a plasticity rule's weight bounds in the weight's unit
:func:`integration_methods`        Brian2 methods to try for a composed group
=================================  ==========================================================
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Sequence, Union

from .library import (WEIGHT_UNIT, Model, ModelError, evaluate_expression,
                      fill_unit_placeholders)

__all__ = ["MAX_EXACT_STATES", "integration_methods", "owned_names", "post_equations",
           "pre_equations", "scale_weight_parameters", "suffix_names", "unit_string",
           "weight_unit"]

MAX_EXACT_STATES = 3


def weight_unit(synapse: Model, post: Model):
    """Unit of the weight ``w`` of ``synapse``: as its equations declare it, or for a
    continuous synapse (``{WEIGHT_UNIT}`` in its equations) the unit that turns its
    presynaptic trace (1/second) into the input unit of the target neuron model ``post``."""
    from brian2 import get_unit, second

    if WEIGHT_UNIT in synapse.equations:
        return get_unit((evaluate_expression(post.input["unit"], {}) * second).dim) \
            if post.input["unit"] != "1" else second
    eqs = synapse.brian2_equations()
    if "w" not in eqs:
        raise ModelError(f"synapse model '{synapse.name}' declares no weight 'w'", synapse.path)
    return get_unit(eqs["w"].dim)


def unit_string(unit) -> str:
    """``unit`` as Brian2's equation parser reads it: ``'1'`` for a dimensionless one."""
    s = repr(unit)
    return "1" if s in ("Unit(1)", "1", "radian") else s


def owned_names(synapse: Model) -> List[str]:
    """The variables ``synapse`` adds to neuron groups (its post- and pre-side equations)."""
    names = []
    for key in ("post_equations", "pre_equations"):
        if getattr(synapse, key):
            names += list(synapse.brian2_equations(key, check=True).names)
    return names


def suffix_names(synapse: Model, text: str, suffix: str, pre_post: bool = False) -> str:
    """``text`` (statements, a condition) with the variables ``synapse`` owns suffixed; with
    ``pre_post`` also their ``_pre`` / ``_post`` forms (``g_post`` -> ``g_c0_post``), as a
    ``Synapses`` object's code refers to them."""
    from brian2.utils.stringtools import word_substitute

    return word_substitute(text, _suffix_map(synapse, suffix, pre_post))


def post_equations(synapse: Model, suffix: str):
    """The target-side equations of ``synapse`` (``post_equations``), its own variables
    suffixed and its parameters written in as values (:class:`brian2.Equations`)."""
    from brian2 import Equations

    eqs = Equations(synapse.post_equations)
    subs = {k: v for k, v in synapse.parameters.items() if k in eqs.identifiers}
    subs.update({k: v for k, v in _suffix_map(synapse, suffix).items() if k in eqs.names})
    return eqs.substitute(**subs)


def _suffix_map(synapse: Model, suffix: str, pre_post: bool = False) -> Dict[str, str]:
    mapping = {}
    for v in owned_names(synapse):
        mapping[v] = v + suffix
        if pre_post:
            mapping[v + "_post"] = v + suffix + "_post"
            mapping[v + "_pre"] = v + suffix + "_pre"
    return mapping


def pre_equations(synapse: Model, neuron: Model, suffix: str, keep: Sequence[str] = ()):
    """The source-side equations of a continuous synapse (the gated synapse's ``s``), written
    for ``neuron``::

        dVdt -> the right-hand side of the neuron's voltage equation
        V -> its voltage,  zone_distance / zone_width -> its distance to its gate centre

    with the synapse's variables suffixed and its parameters written in as values, except
    those named in ``keep`` (run-time values).  Returns :class:`brian2.Equations`.
    """
    from brian2 import Equations, get_unit
    from brian2.utils.stringtools import word_substitute

    volt = neuron.voltage or {}
    if not {"name", "distance", "width"} <= set(volt):
        raise ModelError(f"synapse '{synapse.name}' needs the presynaptic neuron's voltage, but "
                         f"neuron model '{neuron.name}' declares no "
                         "'voltage: {name, distance, width}'",
                         neuron.path, neuron.line_of("voltage"))
    eqs = neuron.brian2_equations()
    vname = volt["name"]
    if vname not in eqs.diff_eq_names:
        raise ModelError(f"neuron model '{neuron.name}': voltage '{vname}' has no differential "
                         "equation", neuron.path)
    rhs = str(eqs[vname].expr)
    vu = unit_string(get_unit(eqs[vname].dim))
    text = fill_unit_placeholders(synapse.pre_equations, gate_unit="1" if vu == "1" else f"1/{vu}")
    text = word_substitute(text, {"dVdt": f"({rhs})", "zone_distance": f"({volt['distance']})",
                                  "zone_width": f"({volt['width']})", "V": vname})
    eqs = Equations(text)
    subs = {k: v for k, v in synapse.parameters.items()
            if k in eqs.identifiers and k not in keep}
    subs.update({n: n + suffix for n in eqs.names})
    return eqs.substitute(**subs)


def scale_weight_parameters(rule: Model, synapse: Model, overrides: Dict[str, Any],
                            post: Optional[Model] = None) -> Model:
    """``rule`` with its ``weight_parameters`` (e.g. ``w_max``) in the unit of the weight
    ``w`` of ``synapse``, then the ``overrides`` (checked against those units).

    A plasticity file writes its weight parameters as plain numbers, since one rule serves
    synapses with weights in amp, siemens or volt; a continuous synapse's weight unit
    (``{WEIGHT_UNIT}``) depends on the target neuron model ``post``.
    """
    from brian2 import get_unit
    from brian2.units.fundamentalunits import get_dimensions

    if WEIGHT_UNIT in synapse.equations:
        if post is None:
            raise ModelError(f"plasticity rule '{rule.name}' on synapse '{synapse.name}': the "
                             "weight unit depends on the target neuron, which was not given")
        unit = weight_unit(synapse, post)
    else:
        eqs = synapse.brian2_equations(check=True)
        if "w" not in eqs:
            raise ModelError(f"plasticity rule '{rule.name}' acts on a weight 'w', but synapse "
                             f"model '{synapse.name}' declares none", synapse.path)
        unit = get_unit(eqs["w"].dim)
    m = copy.deepcopy(rule)
    for name in m.weight_parameters:
        if name not in m.parameters:
            raise ModelError(f"plasticity rule '{m.name}': weight parameter '{name}' is not one "
                             "of its parameters", m.path, m.line_of("weight_parameters"))
        if not get_dimensions(m.parameters[name]).is_dimensionless:
            raise ModelError(f"plasticity rule '{m.name}': weight parameter '{name}' = "
                             f"{m.parameters[name]!r} must be a plain number in the file (it "
                             "takes the unit of the synapse's weight w)", m.path,
                             m.line_of(f"parameters.{name}"))
        m.parameters[name] = float(m.parameters[name]) * unit
    return m.with_parameters(**overrides) if overrides else m


def integration_methods(neuron: Model, n_odes: int,
                        synapses: Sequence[Model] = ()) -> Union[str, List[str]]:
    """Integration methods for a group of ``neuron`` with ``n_odes`` differential equations
    once composed, to be tried in order: the neuron model's own, then the ``method`` of every
    synapse model in ``synapses`` (those that add equations to the group: a conductance
    synapse's ``g (E_rev - v)`` or a gated synapse's ``g(V) dV/dt`` make a linear neuron
    nonlinear, so ``exact`` no longer applies).  Brian2 uses the first that can integrate the
    equations.  A model whose method is ``exact`` falls back to ``exponential_euler`` beyond
    ``MAX_EXACT_STATES`` differential equations: sympy's exact solution of an n-dimensional
    linear system takes minutes beyond a few states, and exponential Euler is exact for each
    state's own linear decay and first order in the couplings."""
    methods = [neuron.method or "euler"]
    if methods[0] == "exact" and n_odes > MAX_EXACT_STATES:
        methods = ["exponential_euler"]
    for syn in synapses:
        if syn.method and syn.method not in methods:
            methods.append(syn.method)
    return methods[0] if len(methods) == 1 else methods
