"""The image config: runtime settings, platform, history, and history-to-layer alignment."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ImageError


@dataclass
class HistoryEntry:
    """One build step. `layer` is the index of the layer it made, or None (ENV, CMD, LABEL…)."""

    created_by: str
    created: str | None
    comment: str | None
    empty_layer: bool
    layer: int | None = None

    @property
    def instruction(self) -> str:
        return short_instruction(self.created_by)

    @property
    def instruction_lines(self) -> list[str]:
        return instruction_lines(self.created_by)


_SHELL = re.compile(r"^(/bin/(ba)?sh -c |\|\d+ [^ ]*=.*?/bin/sh -c )")
_NOP = re.compile(r"^#\(nop\)\s*")
_BUILDKIT = re.compile(r"\s+# buildkit$")


def short_instruction(created_by: str) -> str:
    """A Dockerfile-like instruction from a history `created_by` text.

    `/bin/sh -c #(nop)  ENV A=1` → `ENV A=1`; `/bin/sh -c apt-get …` → `RUN apt-get …`;
    `RUN /bin/sh -c … # buildkit` → `RUN …`.
    """
    text = " ".join(created_by.split())
    text = text.removesuffix(" # buildkit")
    if text.startswith("RUN "):
        text = "RUN " + _SHELL.sub("", text[4:])
    elif _SHELL.match(text):
        rest = _SHELL.sub("", text)
        text = _NOP.sub("", rest) if _NOP.match(rest) else "RUN " + rest
    return text


def instruction_lines(created_by: str) -> list[str]:
    """`short_instruction` with its line breaks kept, for where there is room: BuildKit records
    a heredoc (`RUN <<EOF`) as the shell command and the script's lines (each kept as written,
    indented, but for trailing blanks). Only `\n` breaks a line: other control characters are
    data, for the caller to escape."""
    first, *rest = _BUILDKIT.sub("", created_by.strip()).split("\n")
    lines = [short_instruction(first), *(line.rstrip(" \t") for line in rest)]
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines


@dataclass
class ImageConfig:
    """What the config JSON says of how the image runs, and where it runs."""

    os: str = ""
    architecture: str = ""
    variant: str = ""
    created: str | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = field(default_factory=list)
    user: str = ""
    workdir: str = ""
    exposed_ports: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    diff_ids: list[str] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)

    @property
    def platform(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def _strings(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return None


def as_text(value: object) -> str:
    """A JSON string field, or \"\" when it is anything else."""
    return value if isinstance(value, str) else ""


def parse_config(data: object, name: str) -> ImageConfig:
    """Read a config JSON (OCI or Docker); tolerant of missing fields, strict about shapes."""
    if not isinstance(data, dict):
        raise ImageError(f"{name}: image config is not a JSON object")
    run = data.get("config") if isinstance(data.get("config"), dict) else {}
    rootfs = data.get("rootfs") if isinstance(data.get("rootfs"), dict) else {}
    diff_ids = rootfs.get("diff_ids", [])
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise ImageError(f"{name}: rootfs.diff_ids is not a list of digests")
    history = []
    for item in data.get("history") if isinstance(data.get("history"), list) else []:
        if isinstance(item, dict):
            history.append(
                HistoryEntry(
                    created_by=as_text(item.get("created_by")),
                    created=as_text(item.get("created")) or None,
                    comment=as_text(item.get("comment")) or None,
                    empty_layer=item.get("empty_layer") is True,
                )
            )
    labels = run.get("Labels") if isinstance(run.get("Labels"), dict) else {}
    ports = run.get("ExposedPorts") if isinstance(run.get("ExposedPorts"), dict) else {}
    return ImageConfig(
        os=as_text(data.get("os")),
        architecture=as_text(data.get("architecture")),
        variant=as_text(data.get("variant")),
        created=as_text(data.get("created")) or None,
        entrypoint=_strings(run.get("Entrypoint")),
        cmd=_strings(run.get("Cmd")),
        env=_strings(run.get("Env")) or [],
        user=as_text(run.get("User")),
        workdir=as_text(run.get("WorkingDir")),
        exposed_ports=sorted(str(p) for p in ports),
        labels={str(k): str(v) for k, v in labels.items()},
        diff_ids=list(diff_ids),
        history=history,
    )


def align_history(history: list[HistoryEntry], layer_count: int) -> list[HistoryEntry | None]:
    """Give each layer its history entry, as BuildKit does: each non-empty entry takes the next layer.

    Sets `entry.layer` on the entries that made a layer; returns, per layer, its entry or None
    (history shorter than the layers). Extra non-empty entries stay history-only rows.
    """
    per_layer: list[HistoryEntry | None] = [None] * layer_count
    next_layer = 0
    for entry in history:
        if entry.empty_layer or next_layer >= layer_count:
            continue
        entry.layer = next_layer
        per_layer[next_layer] = entry
        next_layer += 1
    return per_layer
