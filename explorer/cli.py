"""The `layerscope` command: open the app on an image, or print a report."""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
from collections.abc import Sequence

from .archive.errors import ImageError
from .archive.limits import DEFAULT_LIMITS, Limits

USAGE_EPILOG = """\
IMAGE is an image archive (docker save, Docker 25+, OCI archive, optionally gzip-compressed),
an OCI image layout directory, or - for standard input.

examples:
  layerscope --demo                     open the built-in demo image
  layerscope image.tar                  explore an image
  docker save img | layerscope -        read from standard input
  layerscope report image.tar --json    machine-readable report
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--platform", metavar="OS/ARCH[/VARIANT]", help="platform of a multi-platform image")
    parser.add_argument("--image", metavar="REF", help="image of an archive with several (tag or ref name)")
    parser.add_argument("--verify", action="store_true", help="check every blob's sha256 and every diff_id")
    limits = parser.add_argument_group("limits (for archives from anywhere; see the README)")
    limits.add_argument(
        "--max-entries",
        type=int,
        default=DEFAULT_LIMITS.max_entries,
        metavar="N",
        help="tar entries over all layers (default %(default)s)",
    )
    limits.add_argument(
        "--max-layers", type=int, default=DEFAULT_LIMITS.max_layers, metavar="N", help="layers (default %(default)s)"
    )
    limits.add_argument(
        "--max-ratio",
        type=int,
        default=DEFAULT_LIMITS.max_ratio,
        metavar="N",
        help="how far a layer may inflate, past 1 GiB (default %(default)s)",
    )


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(max_entries=args.max_entries, max_layers=args.max_layers, max_ratio=args.max_ratio)


def _app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerscope",
        description="Look inside a container image: layers, file changes, merged filesystem, wasted space.",
        epilog=USAGE_EPILOG + "\nUse `layerscope report --help` for the non-interactive report.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", nargs="?", metavar="IMAGE", help="image archive, OCI directory, or -")
    parser.add_argument("--demo", action="store_true", help="open the built-in demo image (no Docker needed)")
    _common(parser)
    from . import __version__

    parser.add_argument("--version", action="version", version=f"layerscope {__version__}")
    return parser


def _report_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerscope report",
        description="Print an image's layers and wasted space (no interactive app).",
    )
    parser.add_argument("path", metavar="IMAGE", help="image archive, OCI directory, or -")
    parser.add_argument("--json", action="store_true", help="print JSON (schema in the README)")
    parser.add_argument("--top", type=int, metavar="N", help="list at most N wasted items (default 20; JSON: all)")
    parser.add_argument("--dive", action="store_true", help="add dive 0.13.1's own figures (for its CI thresholds)")
    _common(parser)
    return parser


def _fail(message: str) -> int:
    from .present.text import display_name

    print(f"layerscope: {display_name(message)}", file=sys.stderr)
    return 2


def report(argv: Sequence[str]) -> int:
    """`layerscope report`: analyse the image and print the report."""
    from .archive.pool import prestart

    args = _report_parser().parse_args(argv)
    prestart(args.path)  # the workers start while the model is imported and the manifest read
    from .analysis.image import load
    from .present.report import report_dict

    # The model is 100,000s of long-lived objects and no garbage cycles: the cyclic collector
    # would only walk them, during the analysis, before the report and at exit (0.15 s and
    # 0.25 s on 117,000 files). It stays off, and the model is frozen out of its reach.
    gc.disable()
    try:
        image = load(args.path, args.platform, args.image, args.verify, _limits(args), dive=args.dive)
        try:
            top = args.top if args.top is not None else (None if args.json else 20)
            data = report_dict(image, top)
        finally:
            image.close()
        if args.json:
            sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=True) + "\n")
        else:
            from rich.console import Console

            from .present.report_text import render_report

            render_report(data, Console())
        sys.stdout.flush()
    finally:
        gc.freeze()
        gc.enable()
    return 0


def _stdin_to_fd() -> str:
    """Move a piped archive off fd 0 and give fd 0 the terminal, so the app can read keys.

    Returns a path the model can read the archive from.
    """
    archive = os.dup(0)
    try:
        tty = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        os.close(archive)
        raise ImageError("reading an image from standard input needs a terminal for the app (try `report`)") from None
    os.dup2(tty, 0)
    os.close(tty)
    return f"/dev/fd/{archive}"


def explore(argv: Sequence[str]) -> int:
    """`layerscope IMAGE` / `layerscope --demo`: open the app."""
    parser = _app_parser()
    args = parser.parse_args(argv)
    if args.demo == bool(args.path):
        parser.error("give an IMAGE or --demo")
    if args.path and args.path != "-":
        from .archive.pool import prestart

        prestart(args.path)  # the workers start while Textual is imported
    from .tui.app import make_app

    if args.demo:
        from .demo import demo_path

        app = make_app(str(demo_path()), display_name="demo")
    else:
        path, name = args.path, os.path.basename(args.path.rstrip("/")) or args.path
        if path == "-":
            path, name = _stdin_to_fd(), "standard input"
        app = make_app(
            path, platform=args.platform, image=args.image, verify=args.verify, display_name=name, limits=_limits(args)
        )
    app.run()
    return app.return_code or 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: a user's error prints one line and exits 2, never a traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "report":
            return report(argv[1:])
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
