"""The gallery of wrong gradients: every bug caught and classified, every correct twin passes."""

from __future__ import annotations

import numpy as np
import pytest

from nploss.diagnosis import EXPLANATIONS, audit, classify

from gallery.wrong_gradients import CASES


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_correct_twin_passes(case):
    report = audit(case.loss, case.inputs, case.right, bounds=case.bounds)
    assert report.passed, str(report)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_bug_is_caught_and_classified(case):
    report = audit(case.loss, case.inputs, case.wrong, bounds=case.bounds)
    assert not report.passed, f"{case.name} went unnoticed"
    kinds = {d.kind for d in report.diagnoses}
    assert kinds == {case.kind}, f"{case.name}: classified {kinds}, expected {case.kind}\n{report}"
    text = str(report)
    assert EXPLANATIONS[case.kind] in text and "first wrong element" in text


def test_the_gallery_is_at_least_twelve_bugs_covering_every_class():
    assert len(CASES) >= 12
    assert {c.kind for c in CASES} == set(EXPLANATIONS)


def test_engine_gradients_are_audited_when_no_grad_fn_is_given():
    import nploss.autograd as ag

    x = np.random.default_rng(0).standard_normal(5)
    assert audit(lambda x: ag.sum(ag.tanh(x) ** 2), [x]).passed


def test_classify_names_the_reduction_size():
    n = np.random.default_rng(1).standard_normal((4, 5))
    kind, detail = classify(n * 20, n, [n])
    assert kind == "wrong reduction" and "N = 4x5" in detail
    assert classify(n / 5, n, [n]) == ("wrong reduction", "a = 0.2 n, a factor of 1/N, N = 5")
