"""The `layerscope` command: open the app on an image, or print a report."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .archive.errors import ImageError
from .archive.options import OpenOptions
from .commands.options import add_open_options, open_options, start_pool
from .commands.remote import add_registry_options, apply_registry_options

USAGE_EPILOG = """\
IMAGE is an image archive (docker save, Docker 25+, OCI archive, optionally gzip-compressed),
an OCI image layout directory, - for standard input, an image in a registry
(registry://HOST[:PORT]/REPO[:TAG|@sha256:…]), or in a local engine (docker:IMAGE, podman:IMAGE).

examples:
  layerscope --demo                     open the built-in demo image
  layerscope --demo --tour              a guided tour: how image layers stack
  layerscope image.tar                  explore an image
  layerscope old.tar --compare new.tar  explore old.tar, with a Compare tab against new.tar
  docker save img | layerscope -        read from standard input
  layerscope report image.tar --json    machine-readable report
  layerscope ci image.tar               check size and waste rules (exit 0 pass, 1 fail, 2 error)
  layerscope registry://ghcr.io/org/app:1.4   straight from a registry (no daemon)
  layerscope serve --demo               the app in a web browser (http://127.0.0.1:8000/)
  layerscope cache info                 the layer cache (a layer seen before is not read again)
"""


# Subcommands: `layerscope NAME …` runs `run(argv)` of the module, imported only when used.
COMMANDS = {
    "report": "explorer.commands.report",
    "diff": "explorer.commands.diff",
    "cat": "explorer.commands.cat",
    "extract": "explorer.commands.extract",
    "ci": "explorer.commands.ci",
    "serve": "explorer.commands.serve",
    "cache": "explorer.commands.cache",
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
    parser.add_argument("--tour", action="store_true", help="with --demo: a guided tour of how layers stack")
    parser.add_argument("--compare", metavar="NEW", help="compare the image (as OLD) with NEW, on the Compare tab")
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

    Returns a path the model can read the archive from: for a redirected file (`- < FILE`)
    the file's own path, which worker processes can open too (they have no fd of ours).
    """
    path = _stdin_file()
    archive = os.dup(0) if path is None else None
    try:
        _terminal_on_stdin()
    except ImageError:
        if archive is not None:
            os.close(archive)
        raise ImageError("reading an image from standard input needs a terminal for the app (try `report`)") from None
    return path if path is not None else f"/dev/fd/{archive}"


def _stdin_file() -> str | None:
    """The path of the regular file standard input is redirected from, if it can be found."""
    try:
        if not stat.S_ISREG(os.fstat(0).st_mode):
            return None
        path = os.readlink("/proc/self/fd/0")  # Linux; elsewhere stdin is read as a stream
        return path if os.path.samestat(os.stat(path), os.fstat(0)) else None
    except OSError:
        return None


def _check_image(path: str, options: OpenOptions) -> None:
    """Open a directory or a plain tar file (its metadata only, quick) before the app starts, so
    a missing file or a non-image fails with one line and exit 2. A compressed archive, a pipe,
    an engine or a registry image is read whole or fetched to be opened: the app does that."""
    from .analysis.image import Image
    from .archive.blobs import sniff
    from .archive.engines import engine_of
    from .archive.registry import parse_reference

    if os.path.isfile(path):
        with open(path, "rb") as f:
            if sniff(f.read(4)) != "none":
                return
    elif os.path.lexists(path) and not os.path.isdir(path):
        return  # a pipe
    elif not os.path.lexists(path) and (engine_of(path) is not None or parse_reference(path) is not None):
        return
    try:
        Image.open(path, options).close()
    except ImageError as exc:
        message = str(exc)
        raise ImageError(message if message.startswith(path) else f"{path}: {message}") from None


def explore(argv: Sequence[str]) -> int:
    """`layerscope IMAGE` / `layerscope --demo`: open the app."""
    parser = _app_parser()
    args = parser.parse_args(argv)
    if args.demo == bool(args.path):
        parser.error("give an IMAGE or --demo")
    if args.tour and not args.demo:
        parser.error("--tour walks through the demo: use it with --demo")
    if args.compare == "-":
        parser.error("--compare cannot read standard input (it holds the app's keys)")
    apply_registry_options(args)
    if args.password_stdin and not os.isatty(0):
        _terminal_on_stdin()  # the password came through a pipe: the app takes its keys from the terminal
    with contextlib.ExitStack() as cleanup:
        path, name, options = args.path, None, open_options(args)
        if args.demo:
            from .demo import demo_options, write_demo

            folder = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="layerscope-demo-"))
            path, name = str(write_demo(Path(folder) / "demo.oci.tar")), "demo"  # removed on exit
            options = demo_options(options)
        with start_pool(path, args) as pool:  # the workers start while Textual is imported
            from .tui.app import LayerscopeApp

            if path == "-":
                path, name = _stdin_to_fd(), "standard input"
            elif not args.demo:
                _check_image(path, options)
            if args.compare is not None:
                _check_image(args.compare, options)
            app = LayerscopeApp(path, options, pool=pool, display_name=name, tour=args.tour, compare=args.compare)
            app.run()
    if app.error is not None:  # found after the app started (a corrupt layer): said again on exit
        _fail(app.error)
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
