"""The embedded few-shot data set: Unicode glyphs rendered offline from matplotlib's fonts.

Omniglot has 1,623 handwritten characters from 50 alphabets, 20 drawings each, split into
training and test by alphabet. This set is built the same way from what every nploss install
already has, matplotlib's fonts, so it works on a fresh machine without a network:

- a **class** is a Unicode character (a letter, digit or symbol) that at least
  :data:`MIN_STYLES` of the font styles below can draw;
- an **instance** is one style (DejaVu Sans, Serif and Mono, STIX and Computer Modern, in their
  regular, bold and italic cuts) drawn with a random affine distortion (rotation, shear, scale,
  shift) and a random change of stroke width, as a 28x28 grayscale image like Omniglot's;
- the **splits** are disjoint by script (the first word of the character's Unicode name: LATIN,
  GREEK, CANADIAN ...), as Omniglot splits by alphabet, so test episodes hold characters of
  scripts never seen in training;
- characters that look alike at 28x28 within a script (accented variants differing by a pixel,
  compatibility duplicates) are merged, keeping the first: a class must be recognisable.

The set is deterministic given its seed, takes well under a minute to build on two cores, and
is cached on disk (``$NPLOSS_CACHE``, default ``~/.cache/nploss``) as an ``.npz`` file read
without pickle.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import sys
import unicodedata
from dataclasses import dataclass

import numpy as np

from .augment import random_affine

SIZE = 28  # pixels, as Omniglot resized by Vinyals et al. 2016 and Snell et al. 2017
RENDER = 56  # glyphs are distorted at twice the size, then averaged down 2x2 (anti-aliasing)
INSTANCES = 16  # images per class
MIN_STYLES = 4
SIMILARITY = 0.93  # glyphs whose base images correlate above this within a script are merged
VERSION = 2  # bump when the construction changes: it is part of the cache key

STYLES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmb10.ttf", "cmti10.ttf", "cmss10.ttf", "cmtt10.ttf",
)  # fmt: skip

# Scripts held out for validation and test (everything else trains), chosen so that each split
# has several hundred classes and no script straddles two splits.
VALIDATION_SCRIPTS = frozenset({"ARMENIAN", "HEBREW", "LAO", "LISU", "TETRAGRAM", "HEXAGRAM", "APL", "OLD", "COPTIC"})
TEST_SCRIPTS = frozenset({"GREEK", "GEORGIAN", "CIRCLED", "BOX", "DOMINO", "PLAYING"})
EXCLUDED_SCRIPTS = frozenset({"BRAILLE", "MODIFIER", "COMBINING", "SPACE"})  # dot grids; accents alone


@dataclass
class GlyphSet:
    """Images (M, 28, 28) float32 in [0, 1] (ink is 1), their class labels (M,), and per class
    its character, script and split ("train", "val" or "test")."""

    images: np.ndarray
    labels: np.ndarray
    characters: np.ndarray
    scripts: np.ndarray
    splits: np.ndarray

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Images and labels (renumbered 0..K-1) of one split."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {name!r}")
        classes = np.flatnonzero(self.splits == name)
        keep = np.isin(self.labels, classes)
        renumber = np.full(len(self.characters), -1)
        renumber[classes] = np.arange(len(classes))
        return self.images[keep], renumber[self.labels[keep]]


def _font_dir() -> pathlib.Path:
    import matplotlib

    return pathlib.Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _script(code: int) -> str:
    return unicodedata.name(chr(code), "?").split(" ")[0]


def candidate_characters() -> dict[int, list[str]]:
    """Letters, digits and symbols with the styles that draw them (``{codepoint: [font files]}``)."""
    from matplotlib.ft2font import FT2Font

    coverage: dict[int, list[str]] = {}
    for style in STYLES:
        for code in FT2Font(str(_font_dir() / style)).get_charmap():
            coverage.setdefault(code, []).append(style)
    keep = {}
    for code, styles in sorted(coverage.items()):
        category = unicodedata.category(chr(code))
        if len(styles) >= MIN_STYLES and category[0] in "LNS" and _script(code) not in EXCLUDED_SCRIPTS:
            keep[code] = styles
    return keep


def _render(font, code: int) -> np.ndarray:  # noqa: ANN001
    """One glyph, centred and scaled to fit a RENDER x RENDER canvas, ink in [0, 1]."""
    from scipy import ndimage

    font.set_size(48, 72)
    font.set_text(chr(code))
    font.draw_glyphs_to_bitmap(antialiased=True)
    glyph = np.asarray(font.get_image(), dtype=np.float32) / 255.0
    rows, cols = np.flatnonzero(glyph.any(axis=1)), np.flatnonzero(glyph.any(axis=0))
    canvas = np.zeros((RENDER, RENDER), np.float32)
    if rows.size == 0:
        return canvas
    glyph = glyph[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 0.8 * RENDER / max(glyph.shape)  # leave room for the distortions
    glyph = np.clip(ndimage.zoom(glyph, scale, order=1), 0, 1)
    h, w = glyph.shape
    top, left = (RENDER - h) // 2, (RENDER - w) // 2
    canvas[top : top + h, left : left + w] = glyph[: RENDER - top, : RENDER - left]
    return canvas


def _distort(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random affine distortions (:func:`nploss.data.augment.random_affine`: rotation ±12°,
    shear ±0.2, scale 0.85–1.1, shift up to 3 pixels) and stroke-width changes of a batch of
    RENDER x RENDER images, then 2x2 averaging to 28x28. The stroke change (a 3x3 dilation, a
    2x2 erosion or none) and the averaging are vectorised over the batch.
    """
    n = len(images)
    warped = random_affine(images, rng)
    stroke = rng.integers(-1, 2, n)  # thinner, unchanged, thicker
    padded = np.pad(warped, ((0, 0), (1, 1), (1, 1)))
    window = lambda dr, dc: padded[:, 1 + dr : 1 + dr + RENDER, 1 + dc : 1 + dc + RENDER]  # noqa: E731
    thick, thin = warped.copy(), warped.copy()
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            np.maximum(thick, window(dr, dc), out=thick)  # 3x3 dilation
            if dr <= 0 and dc <= 0:
                np.minimum(thin, window(dr, dc), out=thin)  # 2x2 erosion
    warped = np.where((stroke > 0)[:, None, None], thick, np.where((stroke < 0)[:, None, None], thin, warped))
    return np.clip(warped.reshape(n, SIZE, 2, SIZE, 2).mean(axis=(2, 4)), 0, 1)


def _distinct(codes: list[int], bases: dict[int, np.ndarray]) -> list[int]:
    """Drop characters whose base image is nearly that of one kept before (same script)."""
    kept: list[int] = []
    by_script: dict[str, list[np.ndarray]] = {}
    for code in codes:
        small = bases[code].reshape(SIZE, 2, SIZE, 2).mean(axis=(1, 3)).ravel()
        small = small - small.mean()
        norm = np.linalg.norm(small)
        if norm == 0:
            continue
        unit = small / norm
        seen = by_script.setdefault(_script(code), [])
        if seen and max(float(unit @ other) for other in seen) > SIMILARITY:
            continue
        seen.append(unit)
        kept.append(code)
    return kept


def build(seed: int = 0, instances: int = INSTANCES) -> GlyphSet:
    """Render the set (see the module docstring). Deterministic given ``seed``."""
    from matplotlib.ft2font import FT2Font

    candidates = candidate_characters()
    fonts = {style: FT2Font(str(_font_dir() / style)) for style in STYLES}
    bases = {code: _render(fonts[styles[0]], code) for code, styles in candidates.items()}
    codes = _distinct(list(candidates), bases)
    rng = np.random.default_rng(seed)
    images = np.empty((len(codes) * instances, SIZE, SIZE), np.float32)
    labels = np.repeat(np.arange(len(codes)), instances).astype(np.int32)
    batch = 64  # classes distorted together: large enough to vectorise, small enough for memory
    for first in range(0, len(codes), batch):
        undistorted = []
        for code in codes[first : first + batch]:
            styles = candidates[code]
            rendered = {styles[0]: bases[code]}
            for i in range(instances):
                style = styles[i % len(styles)] if i < len(styles) else styles[rng.integers(len(styles))]
                if style not in rendered:
                    rendered[style] = _render(fonts[style], code)
                undistorted.append(rendered[style])
        clean = np.stack(undistorted)
        images[first * instances : first * instances + len(clean)] = _distort(clean, rng)
    scripts = np.array([_script(c) for c in codes])
    splits = np.where(np.isin(scripts, list(TEST_SCRIPTS)), "test", np.where(np.isin(scripts, list(VALIDATION_SCRIPTS)), "val", "train"))
    characters = np.array([chr(c) for c in codes])
    return GlyphSet(images, labels, characters, scripts, splits)


def cache_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("NPLOSS_CACHE", pathlib.Path.home() / ".cache" / "nploss"))


def load(seed: int = 0, instances: int = INSTANCES, cache: bool = True) -> GlyphSet:
    """The glyph set, from the cache when it is there (built and cached otherwise)."""
    import matplotlib

    key = hashlib.sha256(f"{VERSION}-{seed}-{instances}-{matplotlib.__version__}".encode()).hexdigest()[:16]
    path = cache_dir() / f"glyphs-{key}.npz"
    if cache and path.exists():
        with np.load(path, allow_pickle=False) as f:
            return GlyphSet(f["images"].astype(np.float32) / 255.0, f["labels"], f["characters"], f["scripts"], f["splits"])
    # Building takes about half a minute: say so, or a first `nploss train` looks hung.
    print(f"building the embedded glyph set (once; cached in {cache_dir()}) ...", file=sys.stderr, flush=True)
    glyphs = build(seed, instances)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")
        np.savez_compressed(
            partial, images=np.round(glyphs.images * 255).astype(np.uint8), labels=glyphs.labels,
            characters=glyphs.characters, scripts=glyphs.scripts, splits=glyphs.splits,
        )  # fmt: skip
        os.replace(partial, path)  # atomic: a build interrupted half-way leaves no broken cache
    return glyphs
