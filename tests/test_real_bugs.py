"""The audit on real gradient bugs from public code (tests/gallery/real_bugs.py): every bug
caught, every bug given its true class, every fix passed."""

from __future__ import annotations

import re

import numpy as np
import pytest
from gallery.real_bugs import CASES

from nploss.diagnosis import EXPLANATIONS, audit
from nploss.losses import REGISTRY

IDS = [c.name for c in CASES]


def _options(case) -> dict:
    """The audit's keyword arguments for a gallery entry: its names, bounds and stress scale, its
    parameters, and the registered loss it should equal (``like_mapping`` holds the argument
    names, the loss's parameters and the reduction; "sum / rows" is ``batchmean``)."""
    options = {"names": list(case.names) or None, "bounds": case.bounds, "stress_scale": case.stress_scale}
    if case.params:
        options["params"] = list(case.params)
    if case.like:
        arguments = {a.name for a in REGISTRY[case.like].args}
        mapping = dict(case.like_mapping or {})
        params = {k: v for k, v in mapping.items() if k not in arguments}
        if params.get("reduction") == "sum / rows":
            params["reduction"] = "batchmean"
        options.update(like=case.like, like_map={k: v for k, v in mapping.items() if k in arguments}, like_params=params)
    return options


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_bug_is_caught_and_given_its_true_class(case):
    report = audit(case.loss, case.inputs, case.wrong, **_options(case))
    assert not report.passed, f"{case.name} went unnoticed ({case.citation})"
    kinds = {d.kind for d in report.diagnoses}
    assert kinds == {case.kind}, f"{case.name}: classified {kinds}, the bug is {case.kind}\n{report}"
    assert EXPLANATIONS[case.kind] in str(report)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_fixed_version_passes(case):
    report = audit(case.fixed_loss or case.loss, case.inputs, case.right, **_options(case))
    assert report.passed, f"{case.name}: a false alarm on the fix\n{report}"


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "wrong branch"], ids=lambda c: c.name)
def test_a_wrong_branch_names_a_condition_that_splits_the_elements(case):
    report = audit(case.loss, case.inputs, case.wrong, **_options(case))
    assert report.diagnoses
    # the inputs the documented condition involves, as whole words ("a" must not match "exactly")
    involved = [n for n in case.names if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", case.condition)]
    assert involved, f"{case.name}: its documented condition {case.condition!r} names none of {case.names}"
    for d in report.diagnoses:
        assert d.detail.startswith("wrong exactly"), d.detail
        named = [n for n in involved if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", d.detail)]
        assert named, f"{case.name}: the condition names none of {involved} (documented: {case.condition}): {d.detail}"


def test_the_value_mismatches_say_by_how_much():
    shared = [c for c in CASES if c.kind == "value mismatch"]
    assert shared
    for case in shared:
        (d,) = audit(case.loss, case.inputs, case.wrong, **_options(case)).diagnoses
        assert case.like in d.detail and np.isfinite(d.numerical) and d.analytic != d.numerical, d.detail
        assert "a difference of" in d.detail or "differs from" in d.detail, d.detail
        if d.name == "the loss" and len({x.shape[0] for x in case.inputs}) == 1:  # narrowed to a row
            assert "alone: yours" in d.detail, d.detail
