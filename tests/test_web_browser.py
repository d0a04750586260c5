"""The playground in a real browser: Playwright for Python driving Debian's chromium against the
real server (``convgeom serve --port 0``). Output sizes come from live PyTorch, windows and
messages from the engine, code from ``convgeom.port``, exercises from ``convgeom.quiz``.

Screenshots go to ``$CONVGEOM_SCREENSHOTS`` (default: a temporary folder). Without chromium or
Playwright the tests are skipped, unless ``CONVGEOM_REQUIRE_BROWSER=1`` (CI sets it), where that
is a failure.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import convgeom as cg

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
REQUIRED = os.environ.get("CONVGEOM_REQUIRE_BROWSER") == "1"


def _missing(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (CONVGEOM_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the web test extra is missing
    sync_playwright = None  # type: ignore[assignment]

torch = pytest.importorskip("torch")
pytest.importorskip("starlette")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "convgeom", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, (line, proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        yield match.group(0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        _missing("playwright is not installed")
    if not os.path.exists(CHROMIUM):
        _missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("CONVGEOM_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_page(browser: Browser, url: str, width: int = 1280, height: int = 800, **context: Any) -> Page:
    page = browser.new_context(viewport={"width": width, "height": height}, **context).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    page.errors = errors  # type: ignore[attr-defined]
    expect.set_options(timeout=30_000)
    return page


def set_fields(page: Page, **fields: str) -> None:
    labels = {"op": "Operation", "framework": "Framework", "input": "Input size", "kernel": "Kernel size",
              "stride": "Stride", "padding": "Padding", "dilation": "Dilation", "output_padding": "Output padding"}
    for name, value in fields.items():
        control = page.get_by_label(labels[name], exact=True)
        if name in ("op", "framework"):
            control.select_option(value)
        else:
            control.fill(value)


def torch_size(module: Any, *sizes: int) -> str:
    out = module(torch.zeros(1, 1, *sizes)).shape[2:]
    return str(tuple(out))


def cells(page: Page, grid: str, klass: str) -> set[str]:
    return set(page.locator(f'#grid g[data-grid="{grid}"] rect.{klass}').evaluate_all(
        "rects => rects.map(r => r.dataset.pos)"))


def test_output_size_follows_the_controls(browser: Browser, server: str, shots: Path) -> None:
    page = open_page(browser, server)
    nn = torch.nn
    output = page.get_by_test_id("output-size")
    expect(output).to_have_text(torch_size(nn.Conv2d(1, 1, 3, stride=2, padding=1), 7, 7))  # the defaults
    page.screenshot(path=str(shots / "layer-default-1280.png"))
    cases = [
        (dict(op="conv", input="9,7", kernel="3,2", stride="2", padding="1", dilation="2"),
         nn.Conv2d(1, 1, (3, 2), stride=2, padding=1, dilation=2), (9, 7)),
        (dict(op="conv-transpose", input="5,5", kernel="3", stride="2", padding="1", output_padding="1", dilation="1"),
         nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1), (5, 5)),
        (dict(op="avg-pool", input="11", kernel="3", stride="2", padding="1"), nn.AvgPool1d(3, 2, 1), (11,)),
    ]
    for fields, module, sizes in cases:
        set_fields(page, **fields)
        expect(output).to_have_text(torch_size(module, *sizes))
        expect(page.get_by_test_id("error")).to_be_hidden()
        expect(page.locator("#grid svg")).to_have_count(1)
    page.get_by_label("Ceil mode").check()
    set_fields(page, op="max-pool", input="8", kernel="3", stride="2", padding="0")
    expect(output).to_have_text(torch_size(nn.MaxPool1d(3, 2, ceil_mode=True), 8))
    assert "ceil_mode=true" in page.url and "op=max-pool" in page.url
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_link_restores_exactly_the_layer_it_names(browser: Browser, server: str) -> None:
    page = open_page(browser, server + "#op=max-pool&input=9&kernel=3&stride=2&ceil_mode=true")
    expect(page.get_by_test_id("output-size")).to_have_text(torch_size(torch.nn.MaxPool1d(3, 2, ceil_mode=True), 9))
    expect(page.get_by_label("Padding", exact=True)).to_have_value("")  # not the default of a fresh page
    expect(page.get_by_label("Ceil mode")).to_be_checked()
    expect(page.get_by_label("Operation")).to_have_value("max-pool")


def test_a_rejected_layer_shows_the_engines_message_and_no_picture(browser: Browser, server: str, shots: Path) -> None:
    page = open_page(browser, server)
    expect(page.locator("#grid svg")).to_have_count(1)
    set_fields(page, input="7,7", kernel="10", stride="2", padding="1")
    with pytest.raises(RuntimeError):
        torch.nn.Conv2d(1, 1, 10, stride=2, padding=1)(torch.zeros(1, 1, 7, 7))
    with pytest.raises(cg.GeometryError) as refused:
        cg.conv((7, 7), 10, 2, 1)
    expect(page.get_by_test_id("error")).to_have_text(str(refused.value))
    expect(page.locator("#grid svg")).to_have_count(0)
    expect(page.get_by_test_id("output-size")).to_have_text("\u2014")
    expect(page.locator("#explanation")).to_contain_text("padded input")
    page.screenshot(path=str(shots / "layer-refused-1280.png"))
    set_fields(page, kernel="3")  # and back: the message goes, the picture returns
    expect(page.get_by_test_id("error")).to_be_hidden()
    expect(page.locator("#grid svg")).to_have_count(1)


def test_hover_lights_the_window_of_an_output_and_the_outputs_of_an_input(browser: Browser, server: str,
                                                                          shots: Path) -> None:
    page = open_page(browser, server)
    set_fields(page, input="9,8", kernel="3", stride="2", padding="1", dilation="2")
    result = cg.conv((9, 8), 3, 2, 1, 2)
    expect(page.get_by_test_id("output-size")).to_have_text(str(result.output))
    rows, cols = result.axes

    def window(i: int, j: int) -> set[str]:
        return {f"{rows.window_start(i) + rows.pad_before + a * rows.dilation},"
                f"{cols.window_start(j) + cols.pad_before + b * cols.dilation}"
                for a in range(rows.kernel) for b in range(cols.kernel)}

    for i, j in [(0, 0), (1, 2), (result.output[0] - 1, result.output[1] - 1)]:
        page.locator(f'#grid g[data-grid="output"] rect[data-pos="{i},{j}"]').hover()
        assert cells(page, "input", "window") == window(i, j)
        assert cells(page, "output", "focus") == {f"{i},{j}"}
    page.screenshot(path=str(shots / "hover-output-1280.png"))
    for cell in ["5,4", "1,1", "0,0"]:
        page.locator(f'#grid g[data-grid="input"] rect[data-pos="{cell}"]').hover()
        readers = {f"{i},{j}" for i, j in itertools.product(range(result.output[0]), range(result.output[1]))
                   if cell in window(i, j)}
        assert cells(page, "output", "window") == readers, cell
        assert cells(page, "input", "focus") == {cell}
    page.screenshot(path=str(shots / "hover-input-1280.png"))


def still_caption(result: Any, step: tuple[int, ...]) -> str:
    root = ET.fromstring(cg.draw(result, step=step))
    return next(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "caption")


def test_play_pause_and_step(browser: Browser, server: str) -> None:
    page = open_page(browser, server)
    set_fields(page, input="6,9", kernel="3", stride="1", padding="0", dilation="2")
    result = cg.conv((6, 9), 3, 1, 0, 2)
    count = result.output[0] * result.output[1]
    expect(page.get_by_test_id("output-size")).to_have_text(str(result.output))
    expect(page.locator("#position-text")).to_have_text(f"1 of {count}")
    expect(page.locator("#caption")).to_have_text(still_caption(result, (0, 0)))
    page.get_by_role("button", name="Next position").click()
    page.get_by_role("button", name="Next position").click()
    expect(page.locator("#position-text")).to_have_text(f"3 of {count}")
    expect(page.locator("#caption")).to_have_text(still_caption(result, (0, 2)))
    page.get_by_role("button", name="Previous position").click()
    expect(page.locator("#caption")).to_have_text(still_caption(result, (0, 1)))
    page.get_by_label("Speed").select_option("250")
    page.get_by_role("button", name="Play").click()
    expect(page.locator("#position-text")).not_to_have_text(f"2 of {count}")
    page.get_by_role("button", name="Pause").click()
    stopped = page.locator("#position-text").inner_text()
    page.wait_for_timeout(800)
    assert page.locator("#position-text").inner_text() == stopped
    position = int(stopped.split()[0]) - 1
    expect(page.locator("#caption")).to_have_text(still_caption(result, divmod(position, result.output[1])))


def test_every_framework_side_by_side(browser: Browser, server: str, shots: Path) -> None:
    page = open_page(browser, server)
    set_fields(page, input="8,8", kernel="3", stride="2", padding="same")
    expect(page.get_by_test_id("error")).to_contain_text("padding='same' is not supported for strided convolutions")
    tf = cg.conv((8, 8), 3, 2, "same", framework="tensorflow")
    row = page.locator('#frameworks tr[data-framework="tensorflow"]')
    expect(row).to_contain_text(", ".join(f"({a.pad_before}, {a.pad_after})" for a in tf.axes))
    expect(row).to_contain_text("which PyTorch refuses")
    set_fields(page, framework="tensorflow")
    expect(page.get_by_test_id("output-size")).to_have_text(str(tf.output))
    expect(page.locator('#frameworks tr[data-framework="torch"]')).to_contain_text("refuses this layer")
    expect(page.locator('#findings li[data-code="same-padding-differs"]')).to_have_count(1)
    page.screenshot(path=str(shots / "frameworks-1280.png"), full_page=True)


def test_copy_as_code(browser: Browser, server: str) -> None:
    page = open_page(browser, server, permissions=["clipboard-read", "clipboard-write"])
    set_fields(page, input="224,224", kernel="3", stride="2", padding="same", framework="tensorflow")
    page.get_by_label("In channels").fill("3")
    page.get_by_label("Out channels").fill("16")
    for target in ("torch", "tensorflow", "jax", "onnx"):
        code = cg.port("conv", source="tensorflow", target=target, input=(224, 224), kernel=3, stride=2,
                       padding="same", in_channels=3, out_channels=16).code
        expect(page.locator(f'.code-block[data-framework="{target}"] pre')).to_have_text(code)
    page.locator('.code-block[data-framework="torch"] button.copy').click()
    expect(page.locator('.code-block[data-framework="torch"] button.copy')).to_have_text("Copied")
    clipboard = page.evaluate("navigator.clipboard.readText()")
    assert "nn.ZeroPad2d((0, 1, 0, 1))" in clipboard


def test_practice_asks_checks_and_keeps_score(browser: Browser, server: str, shots: Path) -> None:
    from convgeom import quiz

    page = open_page(browser, server)
    page.get_by_role("tab", name="Practice").click()
    expect(page.get_by_test_id("question")).not_to_be_empty()
    page.get_by_label("Exercise kind").select_option("output_size")
    page.get_by_label("Seed").fill("11")
    page.get_by_role("button", name="New set").click()
    expected = quiz.generate(count=10, kinds=["output_size"], difficulty="medium", seed=11)
    expect(page.get_by_test_id("question")).to_have_text(expected[0].question.replace("`", ""))
    page.get_by_label("Your answer").fill(expected[0].answer)
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_test_id("verdict")).to_contain_text("Correct")
    page.screenshot(path=str(shots / "practice-1280.png"))
    page.get_by_role("button", name="Next exercise").click()
    expect(page.get_by_test_id("question")).to_have_text(expected[1].question.replace("`", ""))
    wrong = "(0, 0, 0)"
    assert not quiz.check(expected[1], wrong).correct
    page.get_by_label("Your answer").fill(wrong)
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_test_id("verdict")).to_contain_text("Not quite")
    expect(page.get_by_test_id("verdict")).to_contain_text(quiz.check(expected[1], wrong).expected)
    expect(page.get_by_test_id("score")).to_have_text("Score: 1 of 2")


def test_onnx_upload_shows_the_layer_table(browser: Browser, server: str, tmp_path: Path, shots: Path) -> None:
    onnx = pytest.importorskip("onnx")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 2, 1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Conv2d(8, 4, 3, dilation=2))
    path = tmp_path / "small.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 32, 32),), str(path), dynamo=False)
    traced = cg.trace(onnx.load(str(path)), None, "onnx")
    page = open_page(browser, server)
    page.get_by_role("tab", name="Model").click()
    page.get_by_label("ONNX file").set_input_files(str(path))
    page.get_by_role("button", name="Trace").click()
    rows = page.locator("#trace-table tbody tr")
    expect(rows).to_have_count(len(traced.layers))
    for i, layer in enumerate(traced.layers):
        expect(rows.nth(i).locator("th")).to_have_text(layer.name)
        if layer.receptive_field is not None:
            size = " x ".join(str(v) for v in layer.receptive_field.to_dict()["size"])
            expect(rows.nth(i).locator("td").nth(7)).to_have_text(size)
    page.screenshot(path=str(shots / "model-1280.png"), full_page=True)
    page.get_by_label("ONNX file").set_input_files({"name": "bad.onnx", "mimeType": "application/octet-stream",
                                                    "buffer": b"not a model"})
    page.get_by_role("button", name="Trace").click()
    expect(page.get_by_test_id("trace-error")).to_contain_text("not an ONNX model")


def test_phone_width_has_no_sideways_page_and_keeps_the_answer_in_sight(browser: Browser, server: str,
                                                                        shots: Path) -> None:
    page = open_page(browser, server + "#op=conv&input=12,12&kernel=3&stride=2&padding=1", width=390, height=844)
    expect(page.get_by_test_id("output-size")).to_have_text(str(cg.conv((12, 12), 3, 2, 1).output))
    page.screenshot(path=str(shots / "layer-phone-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_label("Dilation", exact=True).scroll_into_view_if_needed()
    page.get_by_label("Dilation", exact=True).fill("2")
    expect(page.get_by_test_id("output-size")).to_have_text(str(cg.conv((12, 12), 3, 2, 1, 2).output))
    box = page.get_by_test_id("output-size").bounding_box()
    assert box is not None and 0 <= box["y"] < 844
    page.screenshot(path=str(shots / "layer-phone-390-scrolled.png"))
