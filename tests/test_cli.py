"""``nploss audit``: the table, the exit status, and a deliberately wrong gradient caught."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import nploss.autograd as ag
from nploss.autograd import catalogue
from nploss.cli import main
from nploss.losses import REGISTRY


def test_help_lists_the_audit_command():
    run = subprocess.run([sys.executable, "-m", "nploss", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "audit" in run.stdout


def test_audit_of_every_op_passes_and_prints_a_row_each(capsys):
    assert main(["audit"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.endswith(("ok", "FAIL"))]
    assert len(rows) == len(catalogue.OP_CASES) + len(REGISTRY)
    assert all(row.endswith("ok") for row in rows)
    assert f"{len(rows)} of {len(rows)} entries passed" in out


def _exp_with_a_wrong_vjp(x):
    x = ag.Tensor(x) if not isinstance(x, ag.Tensor) else x
    # d/dx exp(x) is exp(x); this VJP forgets the cotangent's sign at the last element
    flip = np.ones(x.shape)
    flip.flat[-1] = -1.0
    return ag.make_node(np.exp(x.data), (x,), lambda g, out: (g * out * flip,))


@pytest.fixture
def wrong_op():
    case = catalogue.register(catalogue.OpCase("exp (deliberately wrong)", _exp_with_a_wrong_vjp, ((2, 3),), ("real",)))
    yield case
    catalogue.unregister(case.name)


def test_a_wrong_gradient_makes_the_audit_fail_naming_the_op_and_the_element(wrong_op, capsys):
    assert main(["audit"]) == 1
    out = capsys.readouterr().out
    assert "exp (deliberately wrong)" in out and "FAIL" in out
    assert "FAIL exp (deliberately wrong): gradient wrong for x0 at element (1, 2)" in out
    assert main(["audit", "--family", "regression"]) == 0  # the filter leaves the wrong op out


def test_audit_of_one_op_and_unknown_names(capsys):
    assert main(["audit", "--op", "conv2d"]) == 0
    assert "1 of 1 entries passed" in capsys.readouterr().out
    assert main(["audit", "--op", "nonsense"]) == 2
    assert "unknown op 'nonsense'" in capsys.readouterr().err
