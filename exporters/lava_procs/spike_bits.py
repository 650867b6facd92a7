"""A spike recorder for Lava that reads back 32 steps per value.

Lava 0.10 returns a ``Var`` to Python one element per message (``PyLoihiProcessModel._get_var``
sends ``np.nditer(var)`` item by item: "FIXME: send a whole vector"), about 50 us each, so
Lava's own ``RingBuffer`` sink of ``n`` neurons over ``T`` steps costs ``n T`` messages: 20 s
for 1920 neurons x 210 steps, ten times the run itself.  :class:`SpikeBits` records the same
spikes as bits, ``bits[i, w]`` holding steps ``32 w .. 32 w + 31`` of neuron ``i`` (bit
``t mod 32`` set when neuron ``i`` spiked at step ``t``, counted from 0), which reads back in
``n ceil(T/32)`` messages; :meth:`SpikeBits.spikes` unpacks them to ``(T, n)`` booleans, the
layout of ``RingBuffer.data.get().T``.  Words are 32 bits so that each is exact in the
float64 Lava sends it as.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

#: steps per recorded word
BITS = 32


def unpack(bits: np.ndarray, steps: int) -> np.ndarray:
    """``(n, ceil(steps/32))`` words -> ``(steps, n)`` booleans (spike of neuron i at step t)."""
    words = np.asarray(bits, dtype=np.float64)
    if not np.all(words == np.floor(words)) or words.min(initial=0) < 0 or words.max(
            initial=0) >= 2.0 ** BITS:
        raise ValueError("SpikeBits: the recorded words are not 32-bit patterns")
    shifts = np.arange(BITS, dtype=np.uint64)
    flags = (words.astype(np.uint64)[:, :, None] >> shifts) & np.uint64(1)  # (n, W, 32)
    return flags.reshape(words.shape[0], -1)[:, :steps].T.astype(bool)


class SpikeBits(AbstractProcess):
    """Records the spikes arriving at ``a_in`` (shape ``(n,)``) for ``steps`` steps as bits.

    Parameters
    ----------
    shape : tuple
        ``(n,)``, the shape of the spiking process it listens to.
    steps : int
        steps to record (the run's length).
    """

    def __init__(self, *, shape, steps: int, name: str = None) -> None:
        words = (int(steps) + BITS - 1) // BITS
        super().__init__(shape=shape, steps=steps, name=name)
        self.shape = tuple(shape)
        self.steps = int(steps)
        self.a_in = InPort(shape=self.shape)
        self.bits = Var(shape=self.shape + (words,), init=np.zeros(self.shape + (words,)))

    def spikes(self) -> np.ndarray:
        """The recorded spikes, ``(steps, n)`` booleans (call after a run, before stop())."""
        return unpack(self.bits.get(), self.steps)


class _SpikeBitsModel(PyLoihiProcessModel):
    a_in = None
    bits = None

    def run_spk(self) -> None:
        s = self.a_in.recv() != 0
        t = self.time_step - 1
        word, bit = divmod(t, BITS)
        if word < self.bits.shape[-1]:
            self.bits[s, word] += float(1 << bit)


@implements(proc=SpikeBits, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySpikeBitsModelFloat(_SpikeBitsModel):
    """floating_pt: spikes arrive as floats."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    bits: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=SpikeBits, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeBitsModelFixed(_SpikeBitsModel):
    """fixed_pt: spikes arrive as int32."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    bits: np.ndarray = LavaPyType(np.ndarray, float)
