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


def test_json_output_validates_against_its_schema(capsys):
    import json

    import jsonschema

    from nploss.report import schema

    assert main(["audit", "--family", "regression", "--op", "exp", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, schema())
    assert document["passed"] and {e["family"] for e in document["entries"]} == {"op", "regression"}
    broken = dict(document, entries=[{"name": "x"}])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema())


def test_markdown_output_and_a_report_with_one_figure_per_loss(tmp_path, capsys):
    assert main(["audit", "--loss", "mse", "--loss", "huber", "--format", "markdown", "--report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| entry | family |") and "| `huber` | regression |" in out
    readme = (tmp_path / "README.md").read_text()
    assert "![mse](figures/mse.png)" in readme and "![huber](figures/huber.png)" in readme
    assert (tmp_path / "figures" / "huber.png").stat().st_size > 5000


def test_float32_audit(capsys):
    assert main(["audit", "--loss", "mse", "--op", "logsumexp", "--dtype", "float32"]) == 0
    assert "(seed 0, float32)" in capsys.readouterr().out


GALLERY = str(__import__("pathlib").Path(__file__).parent / "gallery" / "wrong_gradients.py")


def test_auditing_a_user_function_from_the_command_line(capsys):
    inputs = ["--inputs", "p=float64[4,3], t=float64[4,3]"]
    assert main(["audit", f"{GALLERY}:mse", "--grad", f"{GALLERY}:mse_grad", *inputs]) == 0
    assert "verdict: the gradient is right" in capsys.readouterr().out
    assert main(["audit", f"{GALLERY}:huber", "--grad", f"{GALLERY}:huber_grad_wrong_branch",
                 "--inputs", "p=float64[40], t=float64[40]"]) == 1  # fmt: skip
    out = capsys.readouterr().out
    assert "WRONG BRANCH" in out and "first wrong element" in out
    assert main(["audit", f"{GALLERY}:bce", "--grad", f"{GALLERY}:bce_grad_unclipped",
                 "--inputs", "p=float64[8] in(0,1), y=int[8]<2", "--format", "json"]) == 1  # fmt: skip
    assert '"kind": "overflow"' in capsys.readouterr().out


def test_user_audit_bad_input_is_explained(capsys):
    assert main(["audit", f"{GALLERY}:mse"]) == 2
    assert "needs --inputs" in capsys.readouterr().err
    assert main(["audit", f"{GALLERY}:mse", "--inputs", "p=float64(4)"]) == 2
    assert "cannot read input 'p=float64(4)'" in capsys.readouterr().err
    assert main(["audit", "no/such/file.py:f", "--inputs", "p=float64[2]"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["audit", f"{GALLERY}:nothing", "--inputs", "p=float64[2]"]) == 2
    assert "has no function 'nothing'" in capsys.readouterr().err


def test_show_prints_the_reference_source_and_the_fast_path(capsys):
    assert main(["show", "cross_entropy"]) == 0
    out = capsys.readouterr().out
    spec = REGISTRY["cross_entropy"]
    assert f"source: {spec.source}" in out
    assert f"def {spec.forward.__name__}(" in out and f"def {spec.vjp.__name__}(" in out
    assert "softmax_xent_vjp" in out  # the reference gradient is softmax(z) - onehot(y)
    assert f"fast path: {spec.fast.how}" in out and f"def {spec.fast.vjp.__name__}(" in out
    assert "PyTorch: torch.nn.functional.cross_entropy" in out


def test_show_without_a_fast_path_and_an_unknown_loss(capsys):
    assert main(["show", "quantile"]) == 0
    assert "fast path: none" in capsys.readouterr().out
    assert main(["show", "huberr"]) == 2
    assert "did you mean huber" in capsys.readouterr().err


def test_the_report_draws_every_loss_of_the_registry(tmp_path, capsys):
    """Issue 19: the slice figure left the domain of probabilities, variances and log-probabilities
    (6 of 8 families crashed after the audit passed). Every registered loss gets its figure."""
    families = sorted({s.family for s in REGISTRY.values()})
    argv = ["audit", "--format", "markdown", "--report", str(tmp_path)]
    assert main(argv + [a for f in families for a in ("--family", f)]) == 0
    _, err = capsys.readouterr()
    assert "no figure" not in err
    readme = (tmp_path / "README.md").read_text()
    assert "**No figure**" not in readme
    for name in REGISTRY:
        assert f"![{name}](figures/{name}.png)" in readme
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 5000, name


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_the_slice_of_every_loss_stays_in_each_inputs_domain(name):
    from nploss.report import SLICE_RANGE, slice_path

    spec = REGISTRY[name]
    x0, direction, paths, notes = slice_path(spec)
    assert set(paths) <= set(spec.differentiable) and notes
    for i, move in paths.items():
        domain = spec.args[i].domain
        for t in (-SLICE_RANGE, -0.5, 0.0, 1.0, SLICE_RANGE):
            x, tangent = move(x0[i], direction[i], t)
            assert np.all(np.isfinite(x)) and x.shape == tangent.shape == np.shape(x0[i])
            if domain == "prob":
                assert np.all((x >= 0) & (x <= 1))
            elif domain == "positive":
                assert np.all(x > 0)
            elif domain in ("nonnegative", "weight"):
                assert np.all(x >= 0)
            elif domain == "simplex":
                assert np.all(x >= 0) and np.allclose(x.sum(axis=-1), 1.0)
            elif domain == "log_simplex":
                assert np.all(x <= 0) and np.allclose(np.exp(x).sum(axis=-1), 1.0)
            # the tangent is dx/dt (what the plotted derivative pairs with the gradient)
            h = 1e-6
            numeric = (move(x0[i], direction[i], t + h)[0] - move(x0[i], direction[i], t - h)[0]) / (2 * h)
            assert np.allclose(tangent, numeric, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(move(x0[i], direction[i], 0.0)[0], x0[i])  # the slice passes through x0
    for i, arg in enumerate(spec.args):
        if arg.domain in ("label", "count", "sign", "binary"):
            assert i not in paths  # labels and discrete targets never move


def test_figures_with_a_missing_or_unreadable_fewshot_log_exit_2(tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["figures", "--fast", "--out", str(out), "--fewshot-log", str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err
    assert f"nploss figures: --fewshot-log {tmp_path / 'missing.csv'}: no such file" in err
    assert not out.exists()  # refused before drawing anything
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    assert main(["figures", "--fast", "--out", str(out), "--fewshot-log", str(tmp_path / "other.csv")]) == 2
    assert "no column episode" in capsys.readouterr().err
    (tmp_path / "empty.csv").write_text("episode,ce\n")
    assert main(["figures", "--fast", "--out", str(out), "--fewshot-log", str(tmp_path / "empty.csv")]) == 2
    assert "has no episodes" in capsys.readouterr().err
    (tmp_path / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    assert main(["figures", "--fast", "--out", str(out), "--fewshot-log", str(tmp_path / "binary.csv")]) == 2
    assert "nploss figures: --fewshot-log" in capsys.readouterr().err
    assert main(["figures", "--fast", "--out", str(out), "--fewshot-log", str(tmp_path)]) == 2
    assert "not a file" in capsys.readouterr().err
    run = subprocess.run([sys.executable, "-m", "nploss", "figures", "--fewshot-log", str(tmp_path / "missing.csv")],
                         capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr


def test_show_of_a_loss_whose_fast_path_is_its_reference_in_row_blocks(capsys):
    assert main(["show", "mae"]) == 0
    out = capsys.readouterr().out
    assert "fast path: the reference formulas, in row blocks on threads" in out
    assert "fast forward" not in out  # no second copy of the formulas to show
