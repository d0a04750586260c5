"""The offline data sets: digits against scikit-learn, the generated tasks' labels read back from
their pixels, user .npz files and image folders, and the seeded split."""

from __future__ import annotations

from pathlib import Path

import pytest

from convgeom.experiments import data as D
from convgeom.experiments.config import ConfigError, DataSpec

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")


def test_digits_are_sklearns_upsampled() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    bunch = datasets.load_digits()
    imgs = D.images(DataSpec("digits", size=8))
    assert imgs.x.shape == (1797, 1, 8, 8) and imgs.x.dtype == np.float32
    np.testing.assert_array_equal(imgs.x[:, 0] * 16, bunch.images)
    np.testing.assert_array_equal(imgs.y, bunch.target)
    big = D.images(DataSpec("digits", size=24))
    ref = torch.nn.functional.interpolate(torch.from_numpy(bunch.images[:5, None] / 16).float(), size=(24, 24),
                                          mode="bilinear", align_corners=False)
    np.testing.assert_allclose(big.x[:5], ref.numpy(), rtol=0, atol=1e-6)


def _glyphs(scale: int) -> list[object]:
    return [np.kron(np.asarray(g, dtype=np.float32), np.ones((scale, scale), np.float32)) for g in D._GLYPHS]


def _classes_in(x: object, glyphs: list[object], g: int) -> set[int]:
    """Classes whose glyph appears exactly in some g x g window of ``x``."""
    windows = np.lib.stride_tricks.sliding_window_view(x, (g, g))
    return {c for c, glyph in enumerate(glyphs) if np.all(windows == glyph, axis=(2, 3)).any()}


@pytest.mark.parametrize("size, distractors", [(16, 1), (32, 1), (16, 0), (24, 2)])
def test_border_task_label_is_the_glyph_touching_the_edge(monkeypatch: pytest.MonkeyPatch, size: int,
                                                          distractors: int) -> None:
    monkeypatch.setattr(D, "BORDER_NOISE", 0.0)       # noiseless: the glyphs can be read back exactly
    imgs = D.border_task(size, 60, seed=3, distractors=distractors)
    scale = max(1, size // 16)
    g = 3 * scale
    glyphs = _glyphs(scale)
    for x, y in zip(imgs.x[:, 0], imgs.y):
        ring = x.copy()
        ring[g:-g, g:-g] = 0                           # the band a glyph wide along the edges
        assert _classes_in(ring, glyphs, g) == {int(y)}
        inner = x[g:-g, g:-g]
        assert ring.sum() == pytest.approx(3 * scale * scale)           # one glyph on the edge, none leaking in
        if distractors == 0:
            assert inner.sum() == 0
        elif distractors == 1:
            inside = _classes_in(inner, glyphs, g)
            assert len(inside) == 1 and int(y) not in inside
    assert set(np.unique(imgs.y)) == {0, 1, 2, 3}


def test_position_task_class_is_where_the_patch_is() -> None:
    imgs = D.position_task(16, 300, seed=1)
    patch, margin = max(3, 16 // 5), max(1, 16 // 8)
    tl = np.abs(imgs.x[:, 0, margin:margin + patch, margin:margin + patch]).mean(axis=(1, 2))
    br = np.abs(imgs.x[:, 0, margin + 8:margin + 8 + patch, margin + 8:margin + 8 + patch]).mean(axis=(1, 2))
    np.testing.assert_array_equal((br > tl).astype(np.int64), imgs.y)
    assert 0.3 < imgs.y.mean() < 0.7


def test_position_classes_are_a_half_image_circular_shift_apart() -> None:
    """What makes circular padding blind on this task: a circular-padded network whose strides
    divide size/2 gives the same output for an image and its half-image circular shift, while
    zero padding does not (real PyTorch modules, random weights)."""
    from convgeom.experiments.config import ModelSpec
    from convgeom.experiments.models import build

    imgs = D.position_task(16, 20, seed=2)
    x = torch.from_numpy(imgs.x)
    shifted = torch.roll(x, shifts=(8, 8), dims=(2, 3))
    # rolling a class 0 image by half the image puts its patch where class 1 has it
    zero = imgs.y == 0
    patch_at_1 = shifted[zero][:, 0, 10:13, 10:13]
    np.testing.assert_array_equal(patch_at_1.numpy(), imgs.x[zero][:, 0, 2:5, 2:5])
    for downsample in ("maxpool", "stride", "avgpool"):
        outputs = {}
        for mode in ("circular", "zeros"):
            torch.manual_seed(0)
            model = build(ModelSpec(padding_mode=mode, downsample=downsample, depth=3, width=4), 1, 2, 16).eval()
            with torch.no_grad():
                outputs[mode] = (model(x), model(shifted))
        torch.testing.assert_close(outputs["circular"][0], outputs["circular"][1], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(outputs["zeros"][0], outputs["zeros"][1], atol=1e-4)


def test_generated_tasks_follow_the_seed() -> None:
    a, b, c = (D.border_task(16, 100, s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)


def test_split_is_seeded_disjoint_and_complete() -> None:
    imgs = D.Images(np.arange(100, dtype=np.float32).reshape(100, 1, 1, 1), np.arange(100) % 2, ("a", "b"))
    s0, s0b, s1 = D.split(imgs, 0), D.split(imgs, 0), D.split(imgs, 1)
    parts = [s0.x_train.ravel(), s0.x_val.ravel(), s0.x_test.ravel()]
    assert [len(p) for p in parts] == [60, 20, 20]
    assert sorted(np.concatenate(parts)) == list(range(100))
    np.testing.assert_array_equal(s0.x_test, s0b.x_test)
    assert not np.array_equal(s0.x_test, s1.x_test)
    np.testing.assert_array_equal(s0.y_train, s0.x_train.ravel().astype(int) % 2)   # labels travel with images


@pytest.mark.parametrize("layout", ["nhw", "nchw", "nhwc"])
def test_npz_layouts_scale_and_labels(tmp_path: Path, layout: str) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(40, 12, 12), dtype=np.uint8)
    x = {"nhw": base, "nchw": base[:, None], "nhwc": base[..., None]}[layout]
    labels = np.array(["cat", "dog"] * 20)
    path = tmp_path / "d.npz"
    np.savez(path, images=x, labels=labels)
    imgs = D.images(DataSpec("npz", size=12, path=str(path)))
    assert imgs.x.shape == (40, 1, 12, 12) and imgs.classes == ("cat", "dog")
    np.testing.assert_allclose(imgs.x[:, 0], base / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(imgs.y, (labels == "dog").astype(int))
    resized = D.images(DataSpec("npz", size=8, path=str(path)))
    ref = torch.nn.functional.interpolate(torch.from_numpy(base[:, None] / 255.0).float(), size=(8, 8),
                                          mode="bilinear", align_corners=False, antialias=True)
    np.testing.assert_allclose(resized.x, ref.numpy(), atol=1e-6)


@pytest.mark.parametrize("arrays, words", [
    ({"x": np.zeros((40, 8, 8))}, "needs arrays x"),
    ({"x": np.zeros((40, 8)), "y": np.zeros(40)}, "images must be (N, H, W)"),
    ({"x": np.zeros((40, 8, 8)), "y": np.zeros(39)}, "labels must be one per image"),
    ({"x": np.zeros((10, 8, 8)), "y": np.arange(10) % 2}, "10 images; need 30"),
    ({"x": np.zeros((40, 5, 8, 8)), "y": np.arange(40) % 2}, "need 1 or 3 channels"),
    ({"x": np.full((40, 8, 8), np.nan), "y": np.arange(40) % 2}, "NaN"),
    ({"x": np.zeros((40, 8, 8)), "y": np.zeros(40)}, "1 classes; need 2"),
])
def test_bad_npz_files(tmp_path: Path, arrays: dict[str, object], words: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ConfigError) as info:
        D.images(DataSpec("npz", size=8, path=str(path)))
    assert words in str(info.value) and "\n" not in str(info.value)
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ConfigError, match="not a readable .npz"):
        D.images(DataSpec("npz", size=8, path=str(tmp_path / "junk.npz")))


def test_image_folder(tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(16):
            pil.fromarray(rng.integers(0, 256, (10, 14), dtype=np.uint8), "L").save(tmp_path / name / f"{i}.png")
    (tmp_path / "a" / "notes.txt").write_text("ignored")
    imgs = D.images(DataSpec("folder", size=8, path=str(tmp_path)))
    assert imgs.x.shape == (32, 1, 8, 8) and imgs.classes == ("a", "b") and list(imgs.y) == [0] * 16 + [1] * 16
    first = np.asarray(pil.open(tmp_path / "a" / "0.png").resize((8, 8), pil.Resampling.BILINEAR)) / 255.0
    np.testing.assert_allclose(imgs.x[0, 0], first, atol=1e-6)
    pil.fromarray(rng.integers(0, 256, (10, 14, 3), dtype=np.uint8), "RGB").save(tmp_path / "b" / "c.png")
    assert D.images(DataSpec("folder", size=8, path=str(tmp_path))).x.shape == (33, 3, 8, 8)
    (tmp_path / "b" / "broken.png").write_text("no image")
    with pytest.raises(ConfigError, match="cannot read image"):
        D.images(DataSpec("folder", size=8, path=str(tmp_path)))
