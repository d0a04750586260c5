"""``convgeom serve``: the local web playground and its JSON API (needs ``convgeom[web]``).

    convgeom serve                    # http://127.0.0.1:8000/
    convgeom serve --port 0 --open    # any free port, opened in the browser

It prints the URL on stdout and serves until Ctrl+C. It binds 127.0.0.1 unless ``--host`` says
otherwise (and then answers requests for any host name); nothing it serves imports or runs
user code. Starlette and uvicorn are imported only here, when the server starts.
"""

from __future__ import annotations

import argparse

from . import args as values

#: Largest --max-upload-mb (MiB).
MAX_UPLOAD_MB = 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 serves the network)")
    parser.add_argument("--port", default="8000", metavar="N", help="port (default 8000; 0 picks any free port)")
    parser.add_argument("--open", action="store_true", help="open the page in the default web browser")
    parser.add_argument("--max-upload-mb", default="64", metavar="MB",
                        help=f"largest ONNX upload for the model table, in MiB (default 64, at most {MAX_UPLOAD_MB})")


def listen(host: str, port: int) -> tuple[object, int]:
    """A listening socket on ``host``:``port`` and the port it got (``port`` 0: any free one)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise values.CliError(f"--host {values.shown(host)} is not an address of this machine ({exc})",
                              fix="use --host 127.0.0.1 (this machine) or 0.0.0.0 (every interface)") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise values.CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                              fix="choose another --port, or --port 0 for any free one") from None
    return sock, int(sock.getsockname()[1])


def url_of(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/"


def run(args: argparse.Namespace) -> int:
    port = values.integer(args.port, "--port", minimum=0, maximum=65535)
    upload_mb = values.integer(args.max_upload_mb, "--max-upload-mb", minimum=1, maximum=MAX_UPLOAD_MB)
    from ..optional import needed

    with needed("convgeom serve", extra="web"):
        import uvicorn

        from ..web.server import Limits, create_app
    sock, port = listen(args.host, port)
    url = url_of(args.host, port)
    app = create_app(Limits(max_upload=upload_mb * 1024**2), host=args.host)
    config = uvicorn.Config(app, host=args.host, port=port, log_level="warning", access_log=False,
                            lifespan="on", server_header=False, timeout_keep_alive=5)
    server = uvicorn.Server(config)
    print(f"convgeom playground: {url}  (Ctrl+C to stop)", flush=True)
    if args.open:
        import threading
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    server.run(sockets=[sock])  # type: ignore[list-item]
    return 0
