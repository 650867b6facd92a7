"""The acceptance suite of issue 18: Brian2's own examples re-written in brainkit
(``examples/brian2/``), each run beside the plain-Brian2 original with short durations and
compared -- identical spikes where both draw the same random numbers, else the example's own
statistic within its sampling error."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "brian2"))
import acceptance  # noqa: E402


def test_the_suite_has_at_least_eight_of_brian2s_examples():
    assert len(acceptance.examples()) >= 8, acceptance.examples()


@pytest.mark.parametrize("name", acceptance.examples())
def test_brainkit_runs_the_example_as_plain_brian2_does(name):
    row = acceptance.run_example(name, quick=True)
    c = row["comparison"]
    assert c["ok"], f"{name}: {c['kind']}: {c['detail']}"
    assert c["rows"], "a comparison that compared nothing"
    assert row["loc_brian2"] > 0 and row["loc_brainkit"] > 0


def test_lines_of_code_leave_out_docstrings_comments_and_blank_lines():
    def f():
        """doc"""
        # comment
        a = 1

        return (a +
                1)
    assert acceptance.code_lines(f) == 3
