"""Omniglot, read from the original zips at a path the user gives (nothing is downloaded).

- :func:`load_background` reads background sets (``images_background*.zip`` or their unpacked
  folders): every character of every alphabet is a class, and, as Snell et al. 2017 (after
  Vinyals et al. 2016), its rotations by 90, 180 and 270 degrees are three more classes.
  Characters present in several sets (Greek and Latin are in both minimal sets) are read once.
- :func:`load_runs` reads the 20 official one-shot runs (``all_runs.zip``, Lake et al. 2015):
  each is a 20-way within-alphabet task with one training image per class and 20 test images,
  and ``class_labels.txt`` gives each test image's training image. :func:`score_runs` applies the
  official protocol: each test image is classified by picking one of its run's 20 training
  images; the score is the accuracy over the 400 test images.

Images are 105x105 1-bit PNGs with white background; they are inverted (ink is 1) and resized
to 28x28 with a box filter, as is usual for prototypical networks.
"""

from __future__ import annotations

import io
import pathlib
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

SIZE = 28


def _open_png(data: bytes, size: int) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        gray = image.convert("L").resize((size, size), Image.Resampling.BOX)
    return 1.0 - np.asarray(gray, dtype=np.float32) / 255.0


def _members(path: pathlib.Path) -> Iterator[tuple[str, bytes]]:
    """(relative name, contents) of every PNG in a zip file or a folder."""
    if not path.exists():
        raise FileNotFoundError(f"Omniglot: {path} does not exist (pass the path of a zip such as images_background_small1.zip or of its unpacked folder)")
    if path.is_dir():
        for file in sorted(path.rglob("*.png")):
            yield file.relative_to(path).as_posix(), file.read_bytes()
        return
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise ValueError(f"Omniglot: {path} is not a readable zip file ({error})") from None
    with archive:
        for name in sorted(archive.namelist()):
            if name.endswith(".png"):
                yield name, archive.read(name)


@dataclass
class Background:
    """Training images (M, 28, 28) in [0, 1], their labels (M,) and a name per class
    (``alphabet/character/rotation``)."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]


def load_background(paths: str | pathlib.Path | Sequence[str | pathlib.Path], rotations: bool = True, size: int = SIZE) -> Background:
    """Read one or more background sets; see the module docstring."""
    paths = [paths] if isinstance(paths, str | pathlib.Path) else list(paths)
    drawings: dict[str, dict[str, np.ndarray]] = {}  # "alphabet/character" -> {file name: image}
    for path in paths:
        for name, data in _members(pathlib.Path(path)):
            parts = name.split("/")
            if len(parts) < 3:
                continue
            character = "/".join(parts[-3:-1])
            drawings.setdefault(character, {}).setdefault(parts[-1], None)  # type: ignore[arg-type]
            if drawings[character][parts[-1]] is None:
                drawings[character][parts[-1]] = _open_png(data, size)
    if not drawings:
        raise ValueError(f"Omniglot: no character images found in {', '.join(map(str, paths))}")
    images, labels, classes = [], [], []
    for character in sorted(drawings):
        stack = np.stack([drawings[character][f] for f in sorted(drawings[character])])
        for quarter in range(4 if rotations else 1):
            labels.append(np.full(len(stack), len(classes)))
            images.append(np.rot90(stack, quarter, axes=(1, 2)))
            classes.append(f"{character}/rot{90 * quarter}")
    return Background(np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels), classes)


@dataclass
class Run:
    """One official one-shot run: 20 training images (one per class), 20 test images, and for
    each test image the index of its training image."""

    name: str
    train: np.ndarray
    test: np.ndarray
    answers: np.ndarray


def load_runs(path: str | pathlib.Path, size: int = SIZE) -> list[Run]:
    """Read the official runs from ``all_runs.zip`` (or its unpacked folder)."""
    path = pathlib.Path(path)
    files = dict(_members(path))
    labels: dict[str, str] = {}
    if path.is_dir():
        for file in sorted(path.rglob("class_labels.txt")):
            labels[file.relative_to(path).as_posix()] = file.read_text()
    else:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.endswith("class_labels.txt"):
                    labels[name] = archive.read(name).decode()
    if not labels:
        raise ValueError(f"Omniglot: {path} holds no runNN/class_labels.txt: is it all_runs.zip?")
    # class_labels.txt names files as runNN/test/itemMM.png: match on those three components, so
    # that an archive unpacked under an extra top folder reads the same.
    by_suffix = {"/".join(name.split("/")[-3:]): data for name, data in files.items()}
    runs = []
    for label_file in sorted(labels):
        run = label_file.split("/")[-2]
        pairs = [line.split() for line in labels[label_file].splitlines() if line.strip()]
        training = sorted({train for _, train in pairs})
        index = {name: i for i, name in enumerate(training)}
        try:
            train = np.stack([_open_png(by_suffix["/".join(name.split("/")[-3:])], size) for name in training])
            test = np.stack([_open_png(by_suffix["/".join(name.split("/")[-3:])], size) for name, _ in pairs])
        except KeyError as missing:
            raise ValueError(f"Omniglot: {run} lists {missing} but the archive does not hold it") from None
        runs.append(Run(run, train, test, np.array([index[t] for _, t in pairs])))
    return runs


def score_runs(runs: Sequence[Run], classify: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> tuple[float, list[float]]:
    """The official score: ``classify(train, test)`` returns, for each test image, the index of
    the training image it picks. Returns the accuracy over all test images and per run."""
    per_run = []
    for run in runs:
        picked = np.asarray(classify(run.train, run.test))
        per_run.append(float(np.mean(picked == run.answers)))
    return float(np.mean(per_run)), per_run
