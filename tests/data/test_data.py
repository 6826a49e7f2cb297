"""The embedded glyph set's construction and the Omniglot loader (on the real zips in ../shared
when they are there)."""

from __future__ import annotations

import pathlib
import unicodedata

import numpy as np
import pytest

from nploss.data import glyphs, omniglot
from nploss.data.augment import random_affine

OMNIGLOT = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "omniglot"
needs_omniglot = pytest.mark.skipif(not (OMNIGLOT / "all_runs.zip").exists(), reason=f"Omniglot not found at {OMNIGLOT}")


def test_distortions_are_deterministic_and_keep_the_ink_in_range():
    image = np.zeros((glyphs.RENDER, glyphs.RENDER), np.float32)
    image[20:36, 26:30] = 1.0  # a vertical bar
    batch = np.stack([image] * 6)
    a = glyphs._distort(batch, np.random.default_rng(0))
    b = glyphs._distort(batch, np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (6, glyphs.SIZE, glyphs.SIZE) and a.min() >= 0 and a.max() <= 1
    assert len({x.tobytes() for x in a}) == 6  # each instance gets its own distortion
    ink = a.sum(axis=(1, 2))
    assert np.all(ink > 0.3 * image.sum() / 4) and np.all(ink < 3 * image.sum() / 4)


def test_an_affine_warp_without_warp_is_the_identity_and_a_zoom_scales_the_ink_area():
    square = np.zeros((1, 28, 28))
    square[0, 10:18, 10:18] = 1.0  # 8x8 about the centre (14, 14)
    rng = np.random.default_rng(0)
    still = random_affine(square, rng, degrees=0, shear=0, scale=(1, 1), shift=0)
    np.testing.assert_array_equal(still, square)
    zoomed = random_affine(square, rng, degrees=0, shear=0, scale=(2, 2), shift=0)
    np.testing.assert_allclose(zoomed.sum(), 4 * square.sum(), rtol=0.15)  # twice the side, four times the area
    # the ink stays centred: nothing outside rows and columns 5..21 (8 pixels of the source, doubled, plus the bilinear rim)
    assert zoomed[0, 14, 14] == 1 and zoomed[0, 5:22, 5:22].sum() == zoomed.sum()


def test_there_are_enough_candidate_classes_and_the_splits_are_disjoint_by_script():
    candidates = glyphs.candidate_characters()
    assert len(candidates) >= 1000
    assert all(len(styles) >= glyphs.MIN_STYLES for styles in candidates.values())
    scripts = {glyphs._script(c) for c in candidates}
    assert glyphs.TEST_SCRIPTS <= scripts and not glyphs.TEST_SCRIPTS & glyphs.VALIDATION_SCRIPTS
    assert "GREEK" in glyphs.TEST_SCRIPTS and unicodedata.name("α").split()[0] == "GREEK"


def test_a_glyph_set_splits_into_renumbered_disjoint_classes():
    rng = np.random.default_rng(0)
    scripts = np.array(["LATIN", "LATIN", "GREEK", "ARMENIAN", "GREEK"])
    splits = np.array(["train", "train", "test", "val", "test"])
    labels = np.repeat(np.arange(5), 3)
    data = glyphs.GlyphSet(rng.random((15, 28, 28), dtype=np.float32), labels, np.array(list("abcde")), scripts, splits)
    images, test_labels = data.split("test")
    assert images.shape == (6, 28, 28)
    np.testing.assert_array_equal(test_labels, [0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="split must be 'train', 'val' or 'test'"):
        data.split("validation")


def test_a_missing_omniglot_path_gives_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist .*images_background_small1.zip"):
        omniglot.load_background(tmp_path / "nowhere.zip")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable zip file"):
        omniglot.load_background(bad)


@needs_omniglot
def test_the_official_runs_load_and_a_perfect_classifier_scores_one():
    runs = omniglot.load_runs(OMNIGLOT / "all_runs.zip")
    assert len(runs) == 20
    assert all(r.train.shape == (20, 28, 28) and r.test.shape == (20, 28, 28) for r in runs)
    assert all(sorted(r.answers) == list(range(20)) for r in runs)
    score, per_run = omniglot.score_runs(runs, lambda train, test: next(r.answers for r in runs if r.train is train))
    assert score == 1.0 and per_run == [1.0] * 20


@needs_omniglot
def test_a_background_set_has_rotations_as_extra_classes():
    background = omniglot.load_background(OMNIGLOT / "images_background_small1.zip")
    assert background.images.shape[1:] == (28, 28) and background.images.max() <= 1.0
    assert len(background.classes) % 4 == 0 and background.classes[1].endswith("/rot90")
    first = background.images[background.labels == 0]
    np.testing.assert_array_equal(background.images[background.labels == 1], np.rot90(first, 1, axes=(1, 2)))
    assert np.all(np.bincount(background.labels) == 20)
