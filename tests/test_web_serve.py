"""``convgeom serve``: prints its URL, binds 127.0.0.1 by default, stops cleanly with its
workers, says in one line what is wrong (a busy port, a bad option, the missing ``web`` extra);
nothing else in convgeom imports the web stack; the page's files are in the wheel."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB_STACK = ("starlette", "uvicorn", "anyio", "httptools", "uvloop", "convgeom.web")


def run(*args: str, code: str = "") -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", code] if code else [sys.executable, "-m", "convgeom", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_import_and_other_commands_load_no_web_stack() -> None:
    code = ("import sys, json, contextlib, io\nimport convgeom\nfrom convgeom.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['shape', 'conv', '--input', '7', '--kernel', '3'])\n    main(['serve', '--help'])\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({WEB_STACK!r}))))")
    proc = run(code=code)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
    code = ("import sys, json\nimport convgeom.web.views, convgeom.web.picture, convgeom.web.practice\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('starlette', 'uvicorn')))))")
    assert json.loads(run(code=code).stdout) == []


def test_help_names_the_defaults_and_the_extra() -> None:
    proc = run("serve", "--help")
    text = " ".join(proc.stdout.split())
    assert proc.returncode == 0
    assert "default 127.0.0.1" in text and "default 8000; 0 picks any free port" in text and "--open" in text


def test_a_missing_extra_is_one_line() -> None:
    code = ("import sys\nclass Block:\n    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('starlette', 'uvicorn'):\n"
            "            raise ImportError(f'No module named {name!r}', name=name)\n"
            "sys.meta_path.insert(0, Block())\nfrom convgeom.cli import main\n"
            "sys.exit(main(['serve', '--port', '0']))")
    proc = run(code=code)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "pip install 'convgeom[web]'" in proc.stderr, proc.stderr


@pytest.mark.parametrize("args, needle", [
    (["--port", "70000"], "--port value '70000' is larger than 65535"),
    (["--port", "x"], "--port 'x' is not an integer"),
    (["--max-upload-mb", "0"], "--max-upload-mb must be >= 1"),
    (["--host", "no.such.host.invalid"], "is not an address of this machine"),
])
def test_bad_options_are_one_line(args: list[str], needle: str) -> None:
    pytest.importorskip("uvicorn")
    proc = run("serve", *args)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and needle in proc.stderr, proc.stderr


def test_a_busy_port_is_one_line() -> None:
    pytest.importorskip("uvicorn")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        proc = run("serve", "--port", str(busy.getsockname()[1]))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "cannot listen on 127.0.0.1" in proc.stderr and "--port 0" in proc.stderr


def children_of(pid: int) -> list[int]:
    from test_web_load import load_bench

    return list(load_bench().children(pid))


def listening_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port`` (Linux /proc/net/tcp, tcp6)."""
    found = set()
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/net/{name}") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":
                found.add(address)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/net"), reason="reads /proc")
def test_serves_on_loopback_and_stops_with_its_workers() -> None:
    pytest.importorskip("uvicorn")
    proc = subprocess.Popen([sys.executable, "-m", "convgeom", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        port = int(match.group(1))
        with urllib.request.urlopen(match.group(0) + "api", timeout=60) as response:
            assert "POST /api/shape" in json.load(response)
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only
        deadline = time.time() + 60
        while len(children_of(proc.pid)) < 2 and time.time() < deadline:
            time.sleep(0.2)
        workers = children_of(proc.pid)
        assert len(workers) == 2
        proc.send_signal(signal.SIGINT)  # Ctrl+C: the shell's 130 and one line, no traceback
        assert proc.wait(timeout=60) in (0, 130)
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
        for pid in workers:
            assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split(")")[1][:3]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_wheel_ships_the_page(tmp_path: Path) -> None:
    if subprocess.run([sys.executable, "-c", "import setuptools, wheel"], capture_output=True).returncode:
        pytest.skip("building a wheel needs setuptools and wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    names = zipfile.ZipFile(next(tmp_path.glob("convgeom-*.whl"))).namelist()
    for name in ("index.html", "app.js", "app.css"):
        assert f"convgeom/web/static/{name}" in names
    page = (ROOT / "src/convgeom/web/static/index.html").read_text() + (ROOT / "src/convgeom/web/static/app.js").read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "the page loads nothing from elsewhere"
