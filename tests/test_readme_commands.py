"""Every command in the README's ``bash`` blocks is one the project accepts as written.

Each ``make`` target exists (``make -n``), each ``brainkit`` line parses with the command line's
own parser (sub-command, flags, choices and values), and each script it names exists and
takes the flags given.  The README's gradient-check line also runs as written (``long``: about a
minute); the Python blocks run in ``test_readme.py`` and ``test_lava_env.py``; training,
export and import run in their own tests.
"""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from brainkit.cli import _parser, main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _commands():
    """(line number, argv) of every command line in the README's bash blocks."""
    lines = README.read_text().splitlines()
    found, inside = [], False
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            inside = line.strip() == "```bash" and not inside
            continue
        if inside:
            argv = shlex.split(line, comments=True)
            if argv:
                found.append((number, argv))
    return found


COMMANDS = _commands()


def test_the_readme_has_the_commands_it_promises():
    assert COMMANDS[0][1] == ["make", "demo"] and COMMANDS[1][1] == ["make", "test"]
    assert sum(argv[0] == "brainkit" for _, argv in COMMANDS) >= 10


@pytest.mark.parametrize("number,argv", COMMANDS, ids=[f"README:{n}" for n, _ in COMMANDS])
def test_readme_command_is_accepted_as_written(number, argv):
    where = f"README.md:{number}: {shlex.join(argv)}"
    if argv[0] == "make":
        proc = subprocess.run(["make", "-n", *argv[1:]], cwd=ROOT, capture_output=True,
                              text=True)
        assert proc.returncode == 0, f"{where}: {proc.stderr.strip()}"
    elif argv[0] == "brainkit":
        try:
            _parser().parse_args(argv[1:])
        except SystemExit:
            pytest.fail(f"{where}: the command line refuses it")
    elif argv[0] in ("python", "python3") and argv[1].endswith(".py"):
        script = ROOT / argv[1]
        assert script.is_file(), f"{where}: no {argv[1]}"
        usage = subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=120).stdout
        for flag in (a.split("=")[0] for a in argv[2:] if a.startswith("--")):
            assert re.search(rf"{re.escape(flag)}\b", usage), f"{where}: {flag} not in --help"
    else:
        pytest.fail(f"{where}: a command this test does not know how to check")


@pytest.mark.long
@pytest.mark.standalone
def test_readme_gradcheck_line_runs_and_passes(tmp_path, capsys):
    """The README's gradient check as written (its --out moved under tmp_path)."""
    argv = next(a for _, a in COMMANDS if a[:2] == ["brainkit", "gradcheck"])
    argv = argv[1:]
    argv[argv.index("--out") + 1] = str(tmp_path / "gradcheck")
    assert main(argv) == 0
    assert "PASS" in capsys.readouterr().out
