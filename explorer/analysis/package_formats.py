"""Parsers of the package databases an image carries: dpkg, apk, Python and Node metadata.

Written here (they are small formats; `python-debian` is GPL). Each takes the bytes the scan
kept and gives `Record`s: a package's name, version and the files it lists, as paths of the
image with a leading "/" as dpkg writes them (`..` resolved against where the metadata lives).
"""

from __future__ import annotations

import csv
import json
import posixpath
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Record:
    """One installed package as its metadata states it."""

    ecosystem: str  # "deb", "apk", "python", "npm"
    name: str
    version: str
    arch: str = ""
    installed_size: int | None = None  # bytes, as the package manager states it
    files: tuple[str, ...] | None = None  # None: the metadata lists no files


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _path(path: str) -> str:
    """An image path with a leading "/", no "." or "..", never above the root."""
    path = posixpath.normpath("/" + path)
    return "/" + path.lstrip("/") if path.startswith("//") else path


def _paragraphs(text: str) -> list[dict[str, str]]:
    """RFC 822-style paragraphs (dpkg status): fields `Key: value`, continuation lines
    starting with a space, paragraphs separated by blank lines."""
    result = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line[0] in " \t" or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        if fields:
            result.append(fields)
    return result


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() else None


def _kib(value: str | None) -> int | None:
    number = _int(value)
    return number * 1024 if number is not None else None


# The fields of a dpkg status paragraph that matter here, and the blank lines between
# paragraphs: one search over the whole file, which the leading newline makes fast (a status
# file has 50,000 lines of descriptions, and a search anchored by `^` tries every character).
_DPKG_FIELD = re.compile(r"\n(?:(Package|Status|Version|Architecture|Installed-Size):[ \t]*([^\n]*)|(?=\n))")


def dpkg_status(data: bytes, need_status: bool = True) -> list[Record]:
    """The installed packages of a dpkg status file (or of one distroless `status.d` file,
    which has no `Status` field: `need_status=False`). Files come from the `.list` files."""
    records = []
    fields: dict[str, str] = {}
    for key, value in [*_DPKG_FIELD.findall("\n" + _text(data).replace("\r\n", "\n")), ("", "")]:
        if key:
            fields[key] = value
        elif fields:  # the end of a paragraph
            record = _dpkg_record({k: v.rstrip() for k, v in fields.items()}, need_status)
            if record is not None:
                records.append(record)
            fields = {}
    return records


def _dpkg_record(fields: dict[str, str], need_status: bool) -> Record | None:
    """The package of one status paragraph's fields, if it is installed."""
    name = fields.get("Package")
    status = fields.get("Status")
    if not name or (status is None and need_status) or (status is not None and not status.endswith(" installed")):
        return None
    size = _kib(fields.get("Installed-Size"))
    return Record("deb", name, fields.get("Version", ""), fields.get("Architecture", ""), size)


def dpkg_list(data: bytes) -> tuple[str, ...]:
    """The paths of a `info/<package>[:<arch>].list` file (directories included). dpkg
    writes them canonical ("/usr/bin/bash"): kept as they are (no work per line)."""
    lines = _text(data).split("\n")
    if lines and not lines[-1]:
        lines.pop()
    if lines and lines[0] == "/.":
        del lines[0]
    return tuple(lines)


def list_package(path: str) -> tuple[str, str]:
    """(name, arch) of a `.list` file's package: `libc6:amd64.list` gives ("libc6", "amd64")."""
    name = path.rpartition("/")[2].removesuffix(".list")
    name, _, arch = name.partition(":")
    return name, arch


def apk_installed(data: bytes) -> list[Record]:
    """Alpine's `lib/apk/db/installed`: `P:` name, `V:` version, `A:` arch, `I:` installed
    size, `F:` a directory and the `R:` files in it."""
    records = []
    for block in _text(data).split("\n\n"):
        fields: dict[str, str] = {}
        files: list[str] = []
        folder = ""
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if not sep or len(key) != 1:
                continue
            if key == "F":
                folder = value
            elif key == "R":
                files.append(_path(f"{folder}/{value}"))
            elif key not in fields:
                fields[key] = value
        if "P" in fields:
            records.append(
                Record(
                    "apk",
                    fields["P"],
                    fields.get("V", ""),
                    fields.get("A", ""),
                    _int(fields.get("I")),
                    tuple(files),
                )
            )
    return records


def _headers(data: bytes) -> dict[str, str]:
    """The header fields of a Python core-metadata file (METADATA, PKG-INFO)."""
    head = _text(data).replace("\r\n", "\n").split("\n\n", 1)[0]
    paragraphs = _paragraphs(head)
    return paragraphs[0] if paragraphs else {}


def python_record(data: bytes, site: str) -> tuple[str, ...]:
    """The files of a dist-info `RECORD` (CSV: path, hash, size), relative to `site`, the
    folder the dist-info sits in (`../../../bin/tool` climbs out of site-packages)."""
    paths = []
    try:
        for row in csv.reader(_text(data).splitlines()):
            if row:
                paths.append(_path(f"{site}/{row[0]}"))
    except csv.Error:  # a malformed RECORD (a field past csv's limit): the rows before the fault
        pass
    return tuple(paths)


def egg_files(data: bytes, egg_dir: str) -> tuple[str, ...]:
    """The files of an egg-info `installed-files.txt`, relative to the egg-info folder."""
    return tuple(_path(f"{egg_dir}/{line.strip()}") for line in _text(data).splitlines() if line.strip())


def python_metadata(data: bytes, folder: str, files: tuple[str, ...] | None) -> Record:
    """A Python distribution from its METADATA or PKG-INFO; the folder's name
    (`name-version.dist-info`) stands in for missing fields."""
    fields = _headers(data)
    stem = folder.rpartition("/")[2].rpartition(".")[0]
    name, _, version = stem.partition("-")
    return Record("python", fields.get("Name") or name, fields.get("Version") or version, files=files)


def npm_package(data: bytes, folder: str) -> Record:
    """A Node package from its `package.json` (name and version; files: its folder)."""
    try:
        meta = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        meta = {}
    name = meta.get("name")
    version = meta.get("version")
    fallback = folder.split("node_modules/")[-1]
    return Record(
        "npm",
        name if isinstance(name, str) and name else fallback,
        version if isinstance(version, str) else "",
    )


def normalize_python_name(name: str) -> str:
    """PEP 503: `Foo_Bar` and `foo-bar` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()
