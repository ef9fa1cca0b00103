"""The `layerscope` command: open the app on an image, or print a report."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from .archive.errors import ImageError
from .archive.pool import ScanPool
from .commands.options import add_open_options, open_options
from .commands.remote import add_registry_options, apply_registry_options

USAGE_EPILOG = """\
IMAGE is an image archive (docker save, Docker 25+, OCI archive, optionally gzip-compressed),
an OCI image layout directory, - for standard input, an image in a registry
(registry://HOST[:PORT]/REPO[:TAG|@sha256:…]), or in a local engine (docker:IMAGE, podman:IMAGE).

examples:
  layerscope --demo                     open the built-in demo image
  layerscope image.tar                  explore an image
  docker save img | layerscope -        read from standard input
  layerscope report image.tar --json    machine-readable report
  layerscope ci image.tar               check size and waste rules (exit 0 pass, 1 fail, 2 error)
  layerscope registry://ghcr.io/org/app:1.4   straight from a registry (no daemon)
  layerscope serve --demo               the app in a web browser (http://127.0.0.1:8000/)
"""


# Subcommands: `layerscope NAME …` runs `run(argv)` of the module, imported only when used.
COMMANDS = {
    "report": "explorer.commands.report",
    "ci": "explorer.commands.ci",
    "serve": "explorer.commands.serve",
}


def _app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerscope",
        description="Look inside a container image: layers, file changes, merged filesystem, wasted space.",
        epilog=USAGE_EPILOG + "\nUse `layerscope report --help` for the non-interactive report.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", nargs="?", metavar="IMAGE", help="image archive, OCI directory, or -")
    parser.add_argument("--demo", action="store_true", help="open the built-in demo image (no Docker needed)")
    add_open_options(parser)
    add_registry_options(parser)
    from . import __version__

    parser.add_argument("--version", action="version", version=f"layerscope {__version__}")
    return parser


def _fail(message: str) -> int:
    from .present.text import display_name

    print(f"layerscope: {display_name(message)}", file=sys.stderr)
    return 2


def _terminal_on_stdin() -> None:
    try:
        tty = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        raise ImageError("the app needs a terminal (try `report`)") from None
    os.dup2(tty, 0)
    os.close(tty)


def _stdin_to_fd() -> str:
    """Move a piped archive off fd 0 and give fd 0 the terminal, so the app can read keys.

    Returns a path the model can read the archive from.
    """
    archive = os.dup(0)
    try:
        _terminal_on_stdin()
    except ImageError:
        os.close(archive)
        raise ImageError("reading an image from standard input needs a terminal for the app (try `report`)") from None
    return f"/dev/fd/{archive}"


def explore(argv: Sequence[str]) -> int:
    """`layerscope IMAGE` / `layerscope --demo`: open the app."""
    parser = _app_parser()
    args = parser.parse_args(argv)
    if args.demo == bool(args.path):
        parser.error("give an IMAGE or --demo")
    apply_registry_options(args)
    if args.password_stdin and not os.isatty(0):
        _terminal_on_stdin()  # the password came through a pipe: the app takes its keys from the terminal
    path, name = args.path, None
    if args.demo:
        from .demo import demo_path

        path, name = str(demo_path()), "demo"
    with ScanPool.start(path) as pool:  # the workers start while Textual is imported
        from .tui.app import LayerscopeApp

        if path == "-":
            path, name = _stdin_to_fd(), "standard input"
        app = LayerscopeApp(path, open_options(args), pool=pool, display_name=name)
        app.run()
    return app.return_code or 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: a user's error prints one line and exits 2, never a traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            return importlib.import_module(COMMANDS[argv[0]]).run(argv[1:])
        from .commands.ci import ci_requested

        if ci_requested(argv):  # CI=true, as with dive (and no terminal to show the app on)
            return importlib.import_module(COMMANDS["ci"]).run(argv)
        return explore(argv)
    except ImageError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except BrokenPipeError:
        # the reader went away (`--json | head`): end quietly, without Python's complaint at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
