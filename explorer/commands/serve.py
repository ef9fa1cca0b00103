"""`layerscope serve`: the app in a web browser, one app process per browser tab (textual-serve).

The page works offline: textual-serve's page asks a web-font service for Roboto Mono, which
textual-serve also ships; the page is served with that link replaced by the shipped font.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..archive.errors import ImageError
from ..demo import V2, write_demo
from ..present.text import display_name
from .options import add_open_options, open_options
from .remote import add_registry_options, apply_registry_options, forward_credentials

# The stylesheet links of textual-serve's page that leave the machine (its font).
_REMOTE_LINK = re.compile(r"<link[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", re.S)
_LOCAL_FONT = """<style>
      @font-face { font-family: "Roboto Mono"; font-style: normal; font-weight: 100 700;
        src: url("{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf") format("truetype"); }
      @font-face { font-family: "Roboto Mono"; font-style: italic; font-weight: 100 700;
        src: url("{{ config.static.url }}fonts/RobotoMono-Italic-VariableFont_wght.ttf") format("truetype"); }
    </style>"""
_LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerscope serve",
        description="Serve the app to web browsers: each browser tab gets its own app on the image.",
    )
    parser.add_argument("path", nargs="?", metavar="IMAGE", help="image archive or OCI directory")
    parser.add_argument("--demo", action="store_true", help="serve the built-in demo image")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s: this machine)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default %(default)s)")
    add_open_options(parser)
    add_registry_options(parser)
    return parser


def _open_defaults() -> dict[str, object]:
    """The open options and their defaults, to forward only those the user set."""
    parser = argparse.ArgumentParser(add_help=False)
    add_open_options(parser)
    return vars(parser.parse_args([]))


def app_argv(path: str, args: argparse.Namespace) -> list[str]:
    """The `layerscope` arguments that open the image at `path` as `args` say, in each browser
    session (registry credentials go by `forward_credentials`, never on a command line)."""
    argv = [path if _remote(path) else os.path.abspath(path)]
    for dest, default in _open_defaults().items():
        value = getattr(args, dest)
        if value != default:
            flag = "--" + dest.replace("_", "-")
            argv += [flag] if value is True else [flag, str(value)]
    return argv + (["--insecure"] if args.insecure else [])


def _remote(path: str) -> bool:
    """An image in a registry or an engine (no such local file), named the same in every session."""
    from ..archive.engines import engine_of
    from ..archive.registry import parse_reference

    return not os.path.lexists(path) and (engine_of(path) is not None or parse_reference(path) is not None)


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host`."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _validate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Fail now, once, with the CLI's one-line error, rather than in every browser tab."""
    if args.demo == bool(args.path):
        parser.error("give an IMAGE or --demo")
    if not 1 <= args.port <= 65535:
        parser.error(f"--port {args.port}: not a port (1 to 65535)")
    if args.demo:
        args.image = args.image or V2  # each session opens the archive's v2, as `layerscope --demo` does
        return
    if args.path == "-":
        raise ImageError("serve reads the image again for each browser session: give a file or directory, not -")
    from ..analysis.image import Image

    Image.open(args.path, open_options(args)).close()


def _server(command: str, host: str, port: int, name: str):
    """textual-serve's server, made to serve an offline page and only to pages it served."""
    import aiohttp_jinja2
    import jinja2
    from aiohttp import web
    from textual_serve.server import Server

    class OfflinePage(jinja2.FileSystemLoader):
        """textual-serve's page template with its remote font link replaced by the shipped font."""

        def get_source(self, environment: jinja2.Environment, template: str):
            source, filename, uptodate = super().get_source(environment, template)
            return _REMOTE_LINK.sub(_LOCAL_FONT, source), filename, uptodate

    @web.middleware
    async def same_origin(request: web.Request, handler):
        # A web page elsewhere may open a websocket to this port (browsers allow it across
        # origins) and drive the app; a site whose name resolves to 127.0.0.1 may load the page.
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            raise web.HTTPForbidden(text="layerscope serve: cross-origin request refused")
        if is_loopback(host) and not is_loopback(request.url.host or ""):
            raise web.HTTPForbidden(text="layerscope serve: this server answers only to a loopback address")
        return await handler(request)

    class LayerscopeServer(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(same_origin)
            aiohttp_jinja2.setup(app, loader=OfflinePage(self.templates_path))
            return app

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
            # Links on the page use the address the browser used (the server may listen on 0.0.0.0).
            # The page is rendered before the next await, so concurrent requests cannot mix it up.
            self.public_url = f"{request.scheme}://{request.host}"
            return await super().handle_index(request)

        async def on_startup(self, app: web.Application) -> None:
            """No banner: `serve` says where it listens once it does."""

        def serve(self, debug: bool = False) -> None:
            """Serve until SIGINT or SIGTERM; say so once the port is bound (not before, as textual-serve does)."""
            self.initialize_logging()
            shown = f"[{host}]" if ":" in host else host

            def listening(_: str) -> None:
                print(f"layerscope: serving {name} on http://{shown}:{port}/ (Ctrl+C to stop)", flush=True)

            web.run_app(self._make_app(), host=host, port=port, access_log=None, print=listening)

    return LayerscopeServer(command, host=host, port=port, title=f"layerscope — {name}")


def run(argv: Sequence[str]) -> int:
    """`layerscope serve`: check the image, then serve the app until interrupted."""
    parser = _parser()
    args = parser.parse_args(argv)
    apply_registry_options(args)
    _validate(args, parser)
    forward_credentials()
    if not is_loopback(args.host):
        print(
            f"layerscope: warning: listening on {args.host}: anyone who can reach port {args.port} can open the image",
            file=sys.stderr,
        )
    name = "demo" if args.demo else display_name(os.path.basename(os.path.abspath(args.path)))
    with tempfile.TemporaryDirectory(prefix="layerscope-serve-") as folder:
        # the demo is written once, not by each session (`layerscope --demo` writes its own)
        path = str(write_demo(Path(folder) / "demo.oci.tar")) if args.demo else args.path
        # -P: a folder named `explorer` where the server was started must not stand in for the package
        command = shlex.join([sys.executable, "-P", "-m", "explorer", *app_argv(path, args)])
        try:
            _server(command, args.host, args.port, name).serve()
        except OSError as exc:
            print(f"layerscope: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return 0
