"""Offline data: every image set an experiment can train on, as float32 NCHW arrays, and the
seeded train / validation / test split.

* ``digits``: scikit-learn's bundled 1797 handwritten digits (8x8, 0..16), divided by 16 and
  upsampled bilinearly (``torch.nn.functional.interpolate``, ``align_corners=False``) to
  ``size`` x ``size``. The background is 0, so zero padding looks like more background.
* ``border``: the label is the class of the 3x3 glyph (``-``, ``|``, ``\\``, ``/``; scaled by
  ``size // 16``) whose box touches the image edge, on a random side at a random offset;
  ``distractors`` glyphs of *other* classes lie inside, at least one glyph away from the edge,
  so a network must read the edge and know where it is. Noise N(0, 0.15) everywhere.
* ``position``: after Kayhan & van Gemert (CVPR 2020), the class is *where* a patch is: at
  ``size // 8`` pixels from the top-left corner (class 0) or ``size // 2`` further down and
  right (class 1); the patch's content is random (uniform in [-1, 1]) for every image, so only
  its absolute position tells the class. Noise N(0, 0.1). The two positions are a circular
  shift of half the image apart, so a network exactly invariant to that shift (circular
  padding, every stride and pool dividing ``size // 2``, global pooling) is at chance: only
  the image boundary (zero, reflect or replicate padding) can tell them apart.
* ``npz``: arrays ``x`` (or ``images``) of shape (N, H, W), (N, C, H, W) with C in 1, 3, or
  (N, H, W, C), and ``y`` (or ``labels``) of N class labels; uint8 images are divided by 255.
* ``folder``: one sub-folder per class holding image files (Pillow reads them; greyscale
  unless some image has colour). Files and arrays not ``size`` x ``size`` are resized
  bilinearly.

Images are not standardised: zero padding pads with the value 0 of the data as given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..optional import require
from .config import ConfigError, DataSpec

if TYPE_CHECKING:
    import numpy.typing as npt

    Array = npt.NDArray[Any]

#: Largest .npz file read, in bytes, and most images / classes / image files accepted.
MAX_DATA_BYTES = 1 << 30
MAX_IMAGES = 200_000
MAX_CLASSES = 1000
MIN_IMAGES = 30
#: Share of the images held out for validation and for testing (the rest trains).
VAL_FRACTION = 0.2
TEST_FRACTION = 0.2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")

_GLYPHS = (
    ((0, 0, 0), (1, 1, 1), (0, 0, 0)),   # -
    ((0, 1, 0), (0, 1, 0), (0, 1, 0)),   # |
    ((1, 0, 0), (0, 1, 0), (0, 0, 1)),   # \
    ((0, 0, 1), (0, 1, 0), (1, 0, 0)),   # /
)
GLYPH_NAMES = ("-", "|", "\\", "/")
#: Standard deviation of the border task's background noise.
BORDER_NOISE = 0.15


@dataclass(frozen=True)
class Images:
    """All images of a source: ``x`` (N, C, size, size) float32, ``y`` (N,) int64 in 0..K-1."""

    x: Array
    y: Array
    classes: tuple[str, ...]

    @property
    def channels(self) -> int:
        return int(self.x.shape[1])


@dataclass(frozen=True)
class Dataset:
    """One seed's split of a source."""

    x_train: Array
    y_train: Array
    x_val: Array
    y_val: Array
    x_test: Array
    y_test: Array
    classes: tuple[str, ...]

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def size(self) -> int:
        return int(self.x_train.shape[-1])


def images(spec: DataSpec, seed: int = 0) -> Images:
    """Every image of ``spec``; the generated tasks draw theirs from ``seed``."""
    np = require("numpy", "convgeom experiment", "experiments")
    if spec.name == "digits":
        return _digits(spec.size)
    if spec.name == "border":
        return border_task(spec.size, spec.samples, seed, spec.distractors)
    if spec.name == "position":
        return position_task(spec.size, spec.samples, seed)
    assert spec.path is not None
    if spec.name == "npz":
        x, y = _read_npz(spec.path)
    else:
        x, y = _read_folder(spec.path, spec.size)
    return _finish(np, x, y, spec.size, spec.path)


def split(data: Images, seed: int) -> Dataset:
    """A seeded permutation: the last 20% tests, the 20% before validates, the rest trains."""
    np = require("numpy", "convgeom experiment", "experiments")
    n = len(data.y)
    order = np.random.default_rng([seed, 0x5EED]).permutation(n)
    n_test, n_val = max(1, round(n * TEST_FRACTION)), max(1, round(n * VAL_FRACTION))
    tr, va, te = order[: n - n_val - n_test], order[n - n_val - n_test: n - n_test], order[n - n_test:]
    return Dataset(data.x[tr], data.y[tr], data.x[va], data.y[va], data.x[te], data.y[te], data.classes)


# ----- sources -----------------------------------------------------------------------------------
def _resize(x: Array, size: int) -> Array:
    """Bilinear resize of (N, C, H, W) float32 to size x size (antialiased when shrinking)."""
    torch = require("torch", "resizing images", "experiments")
    if x.shape[-2:] == (size, size):
        return x
    t = torch.from_numpy(x)
    shrink = x.shape[-1] > size or x.shape[-2] > size
    out = torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
    resized: Array = out.numpy()
    return resized


def _digits(size: int) -> Images:
    np = require("numpy", "the digits data set", "experiments")
    datasets = require("sklearn.datasets", "the digits data set", "experiments")
    bunch = datasets.load_digits()
    x = (np.asarray(bunch.images, dtype=np.float32) / 16.0)[:, None]
    return Images(_resize(x, size), np.asarray(bunch.target, dtype=np.int64), tuple(str(c) for c in range(10)))


def border_task(size: int, samples: int, seed: int, distractors: int = 1) -> Images:
    """The border task (module docstring): ``samples`` images of ``size`` x ``size``."""
    np = require("numpy", "the border task", "experiments")
    rng = np.random.default_rng([seed, 0xB0])
    scale = max(1, size // 16)
    glyphs = [np.kron(np.asarray(g, dtype=np.float32), np.ones((scale, scale), np.float32)) for g in _GLYPHS]
    g = 3 * scale
    if size < 3 * g:
        raise ConfigError(f"the border task needs size >= {3 * g}, got {size}", fix="use size >= 16")
    x = rng.normal(0.0, BORDER_NOISE, size=(samples, 1, size, size)).astype(np.float32)
    y = rng.integers(0, 4, size=samples)
    sides = rng.integers(0, 4, size=samples)
    offsets = rng.integers(0, size - g + 1, size=samples)
    for i in range(samples):
        top, left = {0: (0, offsets[i]), 1: (size - g, offsets[i]),
                     2: (offsets[i], 0), 3: (offsets[i], size - g)}[int(sides[i])]
        x[i, 0, top:top + g, left:left + g] += glyphs[int(y[i])]
        others = [c for c in range(4) if c != y[i]]
        for _ in range(distractors):
            c = others[int(rng.integers(0, len(others)))]
            r, q = rng.integers(g, size - 2 * g + 1, size=2)
            x[i, 0, r:r + g, q:q + g] += glyphs[c]
    return Images(x, y.astype(np.int64), GLYPH_NAMES)


def position_task(size: int, samples: int, seed: int) -> Images:
    """The position task (module docstring): class 1's patch is class 0's moved by half the image."""
    np = require("numpy", "the position task", "experiments")
    rng = np.random.default_rng([seed, 0x9051])
    patch, margin, half = max(3, size // 5), max(1, size // 8), size // 2
    if margin + half + patch > size:
        raise ConfigError(f"the position task needs size >= {2 * (patch + margin)}", fix="use size >= 16")
    x = rng.normal(0.0, 0.1, size=(samples, 1, size, size)).astype(np.float32)
    y = rng.integers(0, 2, size=samples)
    content = rng.uniform(-1.0, 1.0, size=(samples, patch, patch)).astype(np.float32)
    for i in range(samples):
        at = margin + (half if y[i] else 0)
        x[i, 0, at:at + patch, at:at + patch] = content[i]
    return Images(x, y.astype(np.int64), ("top-left", "bottom-right"))


def _read_npz(path: str) -> tuple[Array, Array]:
    np = require("numpy", "reading .npz data", "experiments")
    if not os.path.isfile(path):
        raise ConfigError(f"data file {path!r} does not exist", fix="give the path of an .npz file")
    if os.path.getsize(path) > MAX_DATA_BYTES:
        raise ConfigError(f"data file {path!r} is larger than {MAX_DATA_BYTES >> 20} MiB", fix="use a smaller sample")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            xk = next((k for k in ("x", "images", "X") if k in keys), None)
            yk = next((k for k in ("y", "labels", "Y") if k in keys), None)
            if xk is None or yk is None:
                raise ConfigError(f"{path}: needs arrays x (or images) and y (or labels), found {sorted(keys)}",
                                  fix="np.savez(path, x=images, y=labels)")
            return npz[xk], npz[yk]
    except (OSError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{path}: not a readable .npz file ({str(exc).splitlines()[0]})",
                          fix="write it with numpy.savez(path, x=images, y=labels)") from None


def _read_folder(path: str, size: int) -> tuple[Array, Array]:
    np = require("numpy", "reading a folder of images", "experiments")
    pil = require("PIL.Image", "reading a folder of images", "experiments")
    if not os.path.isdir(path):
        raise ConfigError(f"image folder {path!r} does not exist", fix="give a folder with one sub-folder per class")
    classes = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)) and not d.startswith("."))
    files: list[tuple[str, int]] = []
    for label, name in enumerate(classes):
        folder = os.path.join(path, name)
        files += [(os.path.join(folder, f), label) for f in sorted(os.listdir(folder))
                  if f.lower().endswith(IMAGE_SUFFIXES)]
        if len(files) > MAX_IMAGES:
            raise ConfigError(f"{path} holds more than {MAX_IMAGES} images", fix="use a smaller sample")
    if len(classes) < 2 or not files:
        raise ConfigError(f"{path} needs at least two sub-folders (one per class) of image files",
                          fix="lay it out as DIR/cat/*.png, DIR/dog/*.png")
    loaded = []
    for file, _ in files:
        try:
            with pil.open(file) as im:
                im.load()
                loaded.append(im.copy())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read image {file}: {str(exc).splitlines()[0]}", fix="remove or fix that file") from None
    colour = any(im.mode not in ("1", "L", "LA", "I", "I;16", "F") for im in loaded)   # palettes count as colour
    mode = "RGB" if colour else "L"
    arrays = [np.asarray(im.convert(mode).resize((size, size), pil.Resampling.BILINEAR), dtype=np.uint8) for im in loaded]
    x = np.stack(arrays)
    x = x[:, None] if mode == "L" else x.transpose(0, 3, 1, 2)
    y = np.asarray([label for _, label in files], dtype=np.int64)
    return x, np.asarray([classes[i] for i in y])


def _finish(np: Any, x: Array, y: Array, size: int, path: str) -> Images:
    """Check shapes and labels, scale to float32, lay out as NCHW, resize."""
    if x.ndim not in (3, 4):
        raise ConfigError(f"{path}: images must be (N, H, W), (N, C, H, W) or (N, H, W, C), got shape {x.shape}",
                          fix="stack the images along the first axis")
    if y.ndim != 1 or len(y) != len(x):
        raise ConfigError(f"{path}: labels must be one per image, got shape {y.shape} for {len(x)} images",
                          fix="give y as a 1-D array of N labels")
    if not MIN_IMAGES <= len(x) <= MAX_IMAGES:
        raise ConfigError(f"{path}: {len(x)} images; need {MIN_IMAGES}..{MAX_IMAGES}", fix="use a sample in that range")
    if x.ndim == 3:
        x = x[:, None]
    elif x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    if x.shape[1] not in (1, 3):
        raise ConfigError(f"{path}: images need 1 or 3 channels, got shape {x.shape}",
                          fix="give greyscale (N, H, W) or RGB (N, 3, H, W) / (N, H, W, 3)")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    elif x.dtype.kind in "iuf":
        x = x.astype(np.float32)
    else:
        raise ConfigError(f"{path}: images must be numbers, got dtype {x.dtype}", fix="save them as uint8 or float32")
    if not np.isfinite(x).all():
        raise ConfigError(f"{path}: images hold NaN or infinite values", fix="clean the data")
    names, labels = np.unique(y, return_inverse=True)
    if not 2 <= len(names) <= MAX_CLASSES:
        raise ConfigError(f"{path}: {len(names)} classes; need 2..{MAX_CLASSES}", fix="give at least two classes")
    x = np.ascontiguousarray(_resize(np.ascontiguousarray(x), size))
    return Images(x, labels.astype(np.int64), tuple(str(n) for n in names))
