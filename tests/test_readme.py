"""The README's Quick start runs as written (it is the first code a new user tries)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.standalone
def test_quick_start_runs_as_written(tmp_path, monkeypatch):
    text = README.read_text()
    section = text.split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(code, "README.md: Quick start", "exec"), scope)  # noqa: S102
    assert (tmp_path / "out" / "raster.png").stat().st_size > 0
    assert len(scope["i"]) == len(scope["t"]) > 0
    assert scope["v"].shape[0] == 2
