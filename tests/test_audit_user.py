"""``nploss audit FILE.py:FUNC``: every ordinary mistake in the user's code or command line is
one clear message and exit 2 (never a traceback of nploss), every wrong gradient a verdict and
exit 1; the code verdicts MUTATES ITS INPUT, NOT FINITE and NOT A SCALAR replace the
misdiagnoses of issue 19. Each case is a user file written to tmp_path."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from nploss.cli import build_parser, main

HEADER = """\
import sys
import numpy as np
import nploss.autograd as ag


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def ce(logits, labels):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


def ce_grad(logits, labels):
    g = softmax(logits)
    g[np.arange(len(labels)), labels] -= 1
    return g / len(labels)


def mse(pred, target):
    return np.mean((pred - target) ** 2)


def mse_grad(pred, target):
    return 2 * (pred - target) / pred.size, -2 * (pred - target) / pred.size
"""
CE_INPUTS = ["--inputs", "logits=float64[4,3], labels=int[4]<3"]
MSE_INPUTS = ["--inputs", "pred=float64[5], target=float64[5]"]


@pytest.fixture
def user(tmp_path, monkeypatch):
    """user(code) -> the path of a file holding HEADER and ``code`` (and the line where ``code``
    starts); the working directory is tmp_path, so messages show the file name alone."""
    monkeypatch.chdir(tmp_path)
    count = iter(range(1000))

    def write(code: str, header: bool = True) -> tuple[str, int]:
        path = tmp_path / f"user_loss_{next(count)}.py"
        head = HEADER + "\n\n" if header else ""
        path.write_text(head + textwrap.dedent(code))
        return path.name, head.count("\n") + 1

    return write


def run(capsys, *argv):
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------- what is right stays right


def test_a_right_gradient_exits_0_and_the_names_are_matched_not_positional(user, capsys):
    f, _ = user("")
    assert run(capsys, f"{f}:ce", "--grad", f"{f}:ce_grad", *CE_INPUTS)[0] == 0
    # given in the other order: matched to the parameters by name (positionally, target would be
    # the bounded input and log(pred) NaN for the standard normal one)
    g, _ = user("""\
        def logloss(pred, target):
            return float(np.mean(np.log(pred) * target))

        def logloss_grad(target, pred):  # the gradient's parameters in another order: matched by name too
            return target / pred / pred.size, np.log(pred) / pred.size
    """)
    code, out, err = run(capsys, f"{g}:logloss", "--grad", f"{g}:logloss_grad", "--inputs", "target=float64[6], pred=float64[6] in(0.5,2)")
    assert code == 0, out + err
    assert out.index("pred: max rel error") < out.index("target: max rel error")  # reported in parameter order


def test_the_engine_differentiates_a_loss_on_tensors(user, capsys):
    f, _ = user("""\
        def tensor_loss(x):
            return ag.sum(ag.tanh(x) ** 2)
    """)
    code, out, _ = run(capsys, f"{f}:tensor_loss", "--inputs", "x=float64[5]")
    assert code == 0 and "the engine's gradient" in out


def test_a_wrong_gradient_still_exits_1_with_its_class(user, capsys):
    f, _ = user("""\
        def mse_grad_sum(pred, target):
            return 2 * (pred - target), -2 * (pred - target)
    """)
    code, out, _ = run(capsys, f"{f}:mse", "--grad", f"{f}:mse_grad_sum", *MSE_INPUTS)
    assert code == 1 and "WRONG REDUCTION" in out


# --------------------------------------------------------------------- the gradient's contract


def test_a_gradient_for_the_integer_label_says_what_is_expected(user, capsys):
    f, _ = user("""\
        def ce_grad_with_labels(logits, labels):
            return ce_grad(logits, labels), np.zeros(labels.shape)
    """)
    code, out, err = run(capsys, f"{f}:ce", "--grad", f"{f}:ce_grad_with_labels", *CE_INPUTS)
    assert code == 2 and out == ""
    assert "your gradient 'ce_grad_with_labels' returned 2 gradients" in err
    assert "one gradient per floating-point input, in this order: logits; labels is an integer input" in err
    assert "Traceback" not in err


def test_a_gradient_of_the_wrong_shape_says_which_and_what_shape(user, capsys):
    f, _ = user("""\
        def ce_grad_rows(logits, labels):
            return ce_grad(logits, labels).sum(axis=1)
    """)
    code, _, err = run(capsys, f"{f}:ce", "--grad", f"{f}:ce_grad_rows", *CE_INPUTS)
    assert code == 2
    assert "a gradient of shape (4,) for logits, which has shape (4, 3)" in err


def test_one_array_for_two_inputs_and_a_gradient_that_is_not_an_array(user, capsys):
    f, _ = user("""\
        def one_array(pred, target):
            return 2 * (pred - target) / pred.size

        def strings(pred, target):
            return "d/dpred", "d/dtarget"
    """)
    code, _, err = run(capsys, f"{f}:mse", "--grad", f"{f}:one_array", *MSE_INPUTS)
    assert code == 2 and "returned one ndarray of shape (5,); expected a tuple of 2 arrays" in err
    code, _, err = run(capsys, f"{f}:mse", "--grad", f"{f}:strings", *MSE_INPUTS)
    assert code == 2 and "returned a str as the gradient of pred" in err


def test_a_numpy_loss_without_grad_says_to_pass_grad(user, capsys):
    f, start = user("")
    code, _, err = run(capsys, f"{f}:ce", *CE_INPUTS)
    assert code == 2
    assert "your function 'ce' works on NumPy arrays but raised TypeError" in err
    assert "pass its hand-written gradient with --grad" in err and "write the loss on nploss Tensors" in err
    g, _ = user("""\
        def detached(x):
            return ag.Tensor(float(np.sum(ag.as_data(x) ** 2)))
    """)
    code, _, err = run(capsys, f"{g}:detached", "--inputs", "x=float64[3]")
    assert code == 2 and "does not depend on its floating-point inputs" in err and "--grad" in err


# ---------------------------------------------------------------------- --inputs and the names


def test_too_few_inputs_name_the_missing_parameter(user, capsys):
    f, _ = user("")
    code, _, err = run(capsys, f"{f}:ce", "--grad", f"{f}:ce_grad", "--inputs", "logits=float64[4,3]")
    assert code == 2 and "--inputs gives no 'labels', a parameter of ce(logits, labels)" in err


def test_an_unknown_input_name_is_an_error(user, capsys):
    f, _ = user("")
    code, _, err = run(capsys, f"{f}:mse", "--grad", f"{f}:mse_grad", "--inputs", "p=float64[5], t=float64[5]")
    assert code == 2 and "--inputs names 'p', but mse(pred, target) has no parameter 'p'" in err
    code, _, err = run(capsys, f"{f}:mse", "--grad", f"{f}:mse_grad", "--inputs", "pred=float64[5], target=float64[5], w=float64[5]")
    assert code == 2 and "no parameter 'w'" in err
    code, _, err = run(capsys, f"{f}:mse", "--inputs", "pred=float64[5], pred=float64[5]")
    assert code == 2 and "input pred is given twice" in err


def test_inputs_too_large_are_refused_before_allocation(user, capsys):
    f, _ = user("")
    code, _, err = run(capsys, f"{f}:mse", "--grad", f"{f}:mse_grad", "--inputs", "pred=float64[100000,100000], target=float64[2]")
    assert code == 2
    assert "input pred: float64[100000,100000] is 10,000,000,000 elements; --inputs allows at most 100,000,000" in err


def test_bounds_that_overflow_are_refused(user, capsys):
    f, _ = user("")
    code, _, err = run(capsys, f"{f}:mse", "--grad", f"{f}:mse_grad", "--inputs", "pred=float64[3] in(0,1e400), target=float64[3]")
    assert code == 2 and "input pred: in(0,1e400) must have finite bounds" in err
    code, _, err = run(capsys, f"{f}:ce", "--grad", f"{f}:ce_grad", "--inputs", "logits=float64[3,2], labels=int32[3]<99999999999")
    assert code == 2 and "<99999999999 must be between 1 and 2147483647" in err


def test_zero_size_inputs_are_refused(user, capsys):
    f, _ = user("")
    code, _, err = run(capsys, f"{f}:mse", "--grad", f"{f}:mse_grad", "--inputs", "pred=float64[0,3], target=float64[0,3]")
    assert code == 2 and "input pred has no elements (shape (0, 3))" in err


# ------------------------------------------------------------------------- the user's code fails


def test_a_syntax_error_names_the_file_and_line(user, capsys):
    f, _ = user("def loss(x):\n    return x +\n", header=False)
    code, _, err = run(capsys, f"{f}:loss", "--inputs", "x=float64[3]")
    assert code == 2 and f"{f}:2: SyntaxError: invalid syntax" in err and "return x +" in err


def test_a_file_that_raises_while_loading(user, capsys):
    f, _ = user("import numpy as np\nSCALE = 1 / 0\n", header=False)
    code, _, err = run(capsys, f"{f}:loss", "--inputs", "x=float64[3]")
    assert code == 2 and f"your file {f} raised ZeroDivisionError at {f}:2" in err


def test_an_exception_in_the_function_is_reported_at_the_users_line(user, capsys):
    f, start = user("""\
        def picks(logits, labels):
            return -np.mean(pick(logits, labels + 10))

        def pick(logits, labels):
            return logits[np.arange(len(labels)), labels]
    """)
    code, _, err = run(capsys, f"{f}:picks", "--grad", f"{f}:ce_grad", *CE_INPUTS)
    assert code == 2
    assert f"your function 'picks' raised IndexError at {f}:{start + 4}: index" in err  # the innermost frame in the file
    assert "return logits[np.arange(len(labels)), labels]" in err and "Traceback" not in err


def test_an_exception_in_the_gradient(user, capsys):
    f, start = user("""\
        def broken_grad(pred, target):
            raise NotImplementedError("todo")
    """)
    code, _, err = run(capsys, f"{f}:mse", "--grad", f"{f}:broken_grad", *MSE_INPUTS)
    assert code == 2 and f"your gradient 'broken_grad' raised NotImplementedError at {f}:{start + 1}: todo" in err


def test_sys_exit_in_the_users_code_is_caught(user, capsys):
    f, start = user("""\
        def exits(pred, target):
            sys.exit(3)
    """)
    code, _, err = run(capsys, f"{f}:exits", "--grad", f"{f}:mse_grad", *MSE_INPUTS)
    assert code == 2 and f"your function 'exits' called sys.exit(3) at {f}:{start + 1}" in err


def test_a_function_that_never_returns_is_stopped_by_the_timeout(user, capsys):
    f, start = user("""\
        def hangs(pred, target):
            try:
                while True:
                    pass
            except Exception:  # the time-out is no Exception: it cannot be swallowed
                return 0.0
    """)
    code, _, err = run(capsys, f"{f}:hangs", "--grad", f"{f}:mse_grad", *MSE_INPUTS, "--timeout", "0.5")
    assert code == 2 and "your function 'hangs' did not return within 0.5 s (--timeout 0.5)" in err
    assert f"it was running at {f}:{start + 2}" in err
    assert build_parser().parse_args(["audit"]).timeout == 60.0


def test_a_bad_timeout_or_stress_scale_is_a_usage_error(user, capsys):
    f, _ = user("")
    assert run(capsys, f"{f}:mse", *MSE_INPUTS, "--timeout", "-1")[0] == 2
    code, _, err = run(capsys, f"{f}:mse", *MSE_INPUTS, "--stress-scale", "inf")
    assert code == 2 and "--stress-scale must be a finite number" in err


# ----------------------------------------------------------------------- the new verdicts


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ('return "0.5"', "returned a string ('0.5')"),
        ("loss = mse(pred, target)", "returned None"),
        ("return (pred - target) ** 2", "returned an array of shape (5,) (5 values)"),
    ],
    ids=["string", "None", "array"],
)
def test_a_loss_that_is_not_a_scalar(user, capsys, body, what):
    f, _ = user(f"def not_scalar(pred, target):\n    {body}\n")
    code, out, _ = run(capsys, f"{f}:not_scalar", "--grad", f"{f}:mse_grad", *MSE_INPUTS)
    assert code == 2
    assert f"verdict for the loss: NOT A SCALAR (your function 'not_scalar' {what}" in out


def test_an_input_mutated_in_place_is_not_a_kink(user, capsys):
    f, _ = user("""\
        def clipped_mae(pred, target):
            np.clip(pred, -1, 1, out=pred)
            return np.mean(np.abs(pred - target))

        def clipped_mae_grad(pred, target):
            g = np.where(np.abs(pred) < 1, np.sign(pred - target), 0.0) / pred.size
            return g, -np.sign(pred - target) / pred.size
    """)
    code, out, _ = run(capsys, f"{f}:clipped_mae", "--grad", f"{f}:clipped_mae_grad", "--inputs", "pred=float64[8] in(-3,3), target=float64[8]")
    assert code == 1
    assert "verdict for pred: MUTATES ITS INPUT (your function 'clipped_mae' changed pred in place" in out
    assert "KINK" not in out
    g, _ = user("""\
        def mse_grad_in_place(pred, target):
            pred -= target
            return 2 * pred / pred.size, -2 * pred / pred.size
    """)
    code, out, _ = run(capsys, f"{g}:mse", "--grad", f"{g}:mse_grad_in_place", *MSE_INPUTS)
    assert code == 1 and "MUTATES ITS INPUT (your gradient 'mse_grad_in_place' changed pred in place" in out


def test_a_nan_loss_is_not_finite_not_a_wrong_term(user, capsys):
    f, _ = user("""\
        def log_loss(pred, target):
            return np.mean(np.log(pred) * target)  # pred is standard normal: log of negatives
    """)
    code, out, _ = run(capsys, f"{f}:log_loss", "--grad", f"{f}:mse_grad", *MSE_INPUTS)
    assert code == 1 and "verdict for the loss: NOT FINITE (the loss is nan at the inputs given)" in out
    assert "WRONG TERM" not in out


def test_an_all_nan_gradient_is_not_finite_not_overflow(user, capsys):
    f, _ = user("""\
        def nan_grad(pred, target):
            return np.full(pred.shape, np.nan), np.full(target.shape, np.nan)
    """)
    code, out, _ = run(capsys, f"{f}:mse", "--grad", f"{f}:nan_grad", *MSE_INPUTS)
    assert code == 1 and "verdict for pred: NOT FINITE (the gradient has 5 NaN or inf entries of 5" in out
    assert "OVERFLOW" not in out


def test_a_failing_stress_check_fails_the_verdict(user, capsys):
    f, _ = user("")
    code, out, _ = run(capsys, f"{f}:mse", "--grad", f"{f}:mse_grad", *MSE_INPUTS, "--stress-scale", "1e308")
    assert code == 1
    assert "at extreme inputs: gradient check: FAIL" in out and "verdict: the gradient is right" not in out
    assert "NOT FINITE" in out


def test_json_output_carries_the_exit_code(user, capsys):
    import json

    f, _ = user("""\
        def mse_grad_in_place(pred, target):
            pred -= target
            return 2 * pred / pred.size, -2 * pred / pred.size
    """)
    code, out, _ = run(capsys, f"{f}:mse", "--grad", f"{f}:mse_grad_in_place", *MSE_INPUTS, "--format", "json")
    document = json.loads(out)
    assert code == 1 and document["exit_code"] == 1 and document["diagnoses"][0]["kind"] == "mutates its input"


def test_the_exit_codes_are_in_the_help():
    run = subprocess.run([sys.executable, "-m", "nploss", "audit", "--help"], capture_output=True, text=True)
    assert run.returncode == 0
    assert "exit status:" in run.stdout
    for line in ("0  every gradient checked is right", "1  a wrong gradient found", "2  a usage or user-code error"):
        assert line in run.stdout
    assert "--timeout" in run.stdout and "one gradient per" in run.stdout


def test_a_traceback_never_reaches_the_user_from_a_subprocess(user, capsys):
    f, _ = user("""\
        def picks(logits, labels):
            return logits[100]
    """)
    result = subprocess.run([sys.executable, "-m", "nploss", "audit", f"{f}:picks", "--grad", f"{f}:ce_grad", *CE_INPUTS],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("nploss audit: your function 'picks' raised IndexError")


def test_a_module_that_is_missing_or_raises_on_import(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "audit_user_broken_module.py").write_text("import numpy as np\nraise RuntimeError('no config')\n")
    code, _, err = run(capsys, "audit_user_broken_module:loss", "--inputs", "x=float64[3]")
    assert code == 2 and "your file audit_user_broken_module raised RuntimeError at" in err
    assert "audit_user_broken_module.py:2: no config (while it was being loaded)" in err
    code, _, err = run(capsys, "audit_user_no_such_module:loss", "--inputs", "x=float64[3]")
    assert code == 2 and "no module named 'audit_user_no_such_module'" in err


# ------------------------------------------------- --like, --map, --like-params and --params


def test_like_catches_a_defect_the_loss_and_its_gradient_share(user, capsys):
    f, _ = user("""\
        def ce_eps(logits, labels):
            p = softmax(logits)[np.arange(len(labels)), labels]
            return -np.mean(np.log(p + 1e-3))  # the epsilon is in the loss ...


        def ce_eps_grad(logits, labels):
            p = softmax(logits)
            w = p[np.arange(len(labels)), labels] / (p[np.arange(len(labels)), labels] + 1e-3)
            g = p * w[:, None]
            g[np.arange(len(labels)), labels] -= w  # ... and in its gradient: consistent
            return g / len(labels)
    """)
    assert run(capsys, f"{f}:ce_eps", "--grad", f"{f}:ce_eps_grad", *CE_INPUTS)[0] == 0  # no check sees it
    code, out, _ = run(capsys, f"{f}:ce_eps", "--grad", f"{f}:ce_eps_grad", *CE_INPUTS, "--like", "cross_entropy", "--map", "labels=target")
    assert code == 1 and "verdict for the loss: VALUE MISMATCH (your loss is" in out and "where cross_entropy gives" in out
    # the right loss passes the same comparison; the mapping may be written either way round
    code, out, _ = run(capsys, f"{f}:ce", "--grad", f"{f}:ce_grad", *CE_INPUTS, "--like", "cross_entropy", "--map", "target=labels")
    assert code == 0, out


def test_like_params_reach_the_registered_loss(user, capsys):
    f, _ = user("""\
        def ce_sum(logits, labels):
            return ce(logits, labels) * len(labels)


        def ce_sum_grad(logits, labels):
            return ce_grad(logits, labels) * len(labels)
    """)
    argv = [f"{f}:ce_sum", "--grad", f"{f}:ce_sum_grad", *CE_INPUTS, "--like", "cross_entropy", "--map", "labels=target"]
    assert run(capsys, *argv)[0] == 1  # against the mean
    assert run(capsys, *argv, "--like-params", "reduction=sum")[0] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--like", "cross_entrpy"], "did you mean cross_entropy"),
        (["--map", "labels=target"], "--map and --like-params describe the loss of --like LOSS"),
        (["--like", "cross_entropy", "--map", "labels=nothing"], "one side must be an input of yours"),
        (["--like", "cross_entropy", "--map", "labels=target", "--like-params", "margin=1"], "has no parameter 'margin'"),
        (["--like", "cross_entropy", "--map", "labels=target", "--like-params", "reduction=max"], "reduction='max'"),
        (["--like", "cross_entropy", "--map", "labels"], "--map: cannot read 'labels'"),
        (["--params", "gamma"], "params names 'gamma', which is no input"),
    ],
)
def test_like_and_params_usage_errors_exit_2(user, capsys, extra, message):
    f, _ = user("")
    code, _, err = run(capsys, f"{f}:ce", "--grad", f"{f}:ce_grad", *CE_INPUTS, *extra)
    assert code == 2 and message in err, err


def test_params_moves_a_parameter_the_inputs_gave(user, capsys):
    f, _ = user("""\
        def scaled(x, gamma, t):
            return np.mean((gamma * x - t) ** 2)


        def scaled_grad(x, gamma, t):
            e = 2 * (gamma * x - t) / x.size
            return e, np.sum(e * x, keepdims=True), -e  # d/dx forgets gamma
    """)
    inputs = ["--inputs", "x=float64[6], gamma=float64[1] in(0.9999,1.0001), t=float64[6]"]
    code, out, _ = run(capsys, f"{f}:scaled", "--grad", f"{f}:scaled_grad", *inputs)
    assert code == 0  # gamma of about 1: the missing factor is below the tolerance
    code, out, _ = run(capsys, f"{f}:scaled", "--grad", f"{f}:scaled_grad", *inputs, "--params", "gamma")
    assert code == 1 and "verdict for x: PARAMETER FACTOR" in out and "misses the factor gamma" in out
