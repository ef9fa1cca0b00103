"""Options for images in a registry (`registry://HOST[:PORT]/REPO[:TAG|@DIGEST]`), shared by every command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..archive.errors import ImageError


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("registries (IMAGE as registry://HOST[:PORT]/REPO[:TAG|@sha256:…])")
    group.add_argument("--username", metavar="NAME", help="registry user (else ~/.docker/config.json, else anonymous)")
    group.add_argument("--password-stdin", action="store_true", help="read the registry password from standard input")
    group.add_argument(
        "--insecure", action="store_true", help="allow plain HTTP and unchecked TLS (always allowed for loopback)"
    )


def apply_registry_options(args: argparse.Namespace, images: Sequence[str] | None = None) -> None:
    """Hand the registry options to the registry client (reads the password now). `images` are
    the command's image arguments (default: `args.path`); none may be standard input with
    `--password-stdin`."""
    if not (args.password_stdin or args.username or args.insecure):
        return  # the defaults: a local image never loads the registry client
    from ..archive.registry import Credentials, Settings, configure

    credentials = None
    if args.password_stdin or args.username:
        if not (args.password_stdin and args.username):
            raise ImageError("--username and --password-stdin go together")
        if "-" in (images if images is not None else (args.path,)):
            raise ImageError("--password-stdin and an image on standard input cannot share it")
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ImageError("--password-stdin: no password on standard input")
        credentials = Credentials(args.username, password)
    configure(Settings(credentials, args.insecure))
