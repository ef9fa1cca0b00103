"""Options for images in a registry (`registry://HOST[:PORT]/REPO[:TAG|@DIGEST]`), shared by every command."""

from __future__ import annotations

import argparse
import json
import os
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


# Credentials `serve` hands to the app process of each browser tab: in its environment (which
# only the same user can read), never on its command line (which every user can).
CREDENTIALS_ENV = "LAYERSCOPE_REGISTRY_CREDENTIALS"


def apply_registry_options(args: argparse.Namespace, images: Sequence[str] | None = None) -> None:
    """Hand the registry options to the registry client (reads the password now, or takes the
    credentials `serve` forwarded, out of the environment so no child process inherits them).
    `images` are the command's image arguments (default: `args.path`); none may be standard
    input with `--password-stdin`."""
    forwarded = os.environ.pop(CREDENTIALS_ENV, None)
    if not (args.password_stdin or args.username or args.insecure or forwarded):
        return  # the defaults: a local image never loads the registry client
    from ..archive.registry import Credentials, Settings, configure

    credentials = None
    if forwarded and not (args.password_stdin or args.username):
        try:
            data = json.loads(forwarded)
            credentials = Credentials(str(data["username"]), str(data["password"]))
        except (ValueError, KeyError, TypeError):
            raise ImageError(f"{CREDENTIALS_ENV}: not the credentials layerscope serve forwards") from None
    elif args.password_stdin or args.username:
        if not (args.password_stdin and args.username):
            raise ImageError("--username and --password-stdin go together")
        if "-" in (images if images is not None else (args.path,)):
            raise ImageError("--password-stdin and an image on standard input cannot share it")
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ImageError("--password-stdin: no password on standard input")
        credentials = Credentials(args.username, password)
    configure(Settings(credentials, args.insecure))


def forward_credentials() -> None:
    """Put the registry credentials this process was given where the processes it starts find
    them (see `CREDENTIALS_ENV`)."""
    from ..archive import registry

    credentials = registry.current_settings().credentials
    if credentials is not None:
        os.environ[CREDENTIALS_ENV] = json.dumps({"username": credentials.username, "password": credentials.password})
