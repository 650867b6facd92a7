"""Plots are written atomically to files and return their Axes."""

import numpy as np
from brian2 import ms, nA

from brainkit import Network, plotting


def test_raster_traces_and_fi_curve_are_written(tmp_path):
    net = Network(dt=0.1 * ms, backend="runtime")
    net.population("exc", "lif", 3)
    net.record("exc", "spikes")
    net.record("exc", "v", indices=[0, 2])
    res = net.run(100 * ms, I_ext={"exc": [0.0, 0.3, 0.5] * nA})
    ax = plotting.raster(res, "exc", path=str(tmp_path / "raster.png"))
    assert len(ax.lines[0].get_xdata()) == res.spike_counts("exc").sum() > 0
    # two populations stacked: the second one's indices are offset
    ax = plotting.raster_populations(res, [("exc", 0, "k"), ("exc", 10, "r")], every=2)
    i = res.spikes["exc"][0]
    assert [list(line.get_ydata()) for line in ax.lines] == [list(i[i % 2 == 0]),
                                                              list(i[i % 2 == 0] + 10)]
    ax = plotting.traces(res, "exc", "v", path=str(tmp_path / "v.png"))
    assert len(ax.lines) == 2
    currents = np.array([0.1, 0.3]) * nA
    rates = res.spike_counts("exc")[1:] / (100 * ms)
    ax = plotting.fi_curve(currents, rates, reference=rates, path=str(tmp_path / "fi.png"))
    for name in ("raster.png", "v.png", "fi.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fi.png", "raster.png", "v.png"]
