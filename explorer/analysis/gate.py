"""The CI gate: the figures an image is judged by, the rules that judge them, the verdict.

A rule is a `Measure` (a figure, and whether it is a floor or a ceiling) with a threshold.
`MEASURES` is the one list of them: the command's flags, the configuration keys, the text,
JSON and JUnit outputs all come from it. A new analysis becomes a rule by adding a `Measure`
whose `measure` reads its result off the image, returning None when that analysis did not
run (the rule is then skipped, and says why).

The rules on the hints (reclaimable bytes, package-manager caches, credential-like files) are
such entries: each gets its flag, its configuration key and its line in every output. A rule
is measured only when it is enabled, so the hints are worked out only when a rule needs them.

Thresholds are compared strictly, as dive does: a floor fails when the figure is below it, a
ceiling when the figure is above it (so a NaN figure, dive's 0/0, fails nothing).
"""

from __future__ import annotations

import fnmatch
import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..archive.errors import ImageError
from .dive_compat import DiveAccumulator
from .hints import PACKAGE_CACHE, SECRET, Hints, compute_hints
from .image import Image

DISABLED = "disabled"
PASS, FAIL, SKIP = "pass", "fail", "skip"


class GateConfigError(ImageError):
    """A rule's threshold or a configuration file that cannot be read (exit 2, like any user error)."""


# ---- numbers written as dive writes them ------------------------------------------------------

_GO_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GO_HEX = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+")
_GO_SPECIAL = {"nan": math.nan, "inf": math.inf, "infinity": math.inf}
_GO_SPECIAL |= {sign + word: float(sign + "inf") for sign in "+-" for word in ("inf", "infinity")}


def go_parse_float(text: str) -> float:
    """Go's `strconv.ParseFloat(text, 64)`: no spaces, no underscores, ±Inf/NaN by name, an
    out-of-range value is an error."""
    special = _GO_SPECIAL.get(text.lower())
    if special is not None:
        return special
    if _GO_DECIMAL.fullmatch(text):
        value = float(text)
    elif _GO_HEX.fullmatch(text):
        value = float.fromhex(text)
    else:
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    if math.isinf(value):
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return value


# go-humanize 1.0.1 `bytesSizeTable` (the unit is matched lower-cased, spaces trimmed)
_UNITS = {"": 1, "b": 1}
for _i, _p in enumerate("kmgtpe", start=1):
    _UNITS[_p] = _UNITS[_p + "b"] = 1000**_i
    _UNITS[_p + "i"] = _UNITS[_p + "ib"] = 1024**_i


def humanize_parse_bytes(text: str) -> int:
    """go-humanize's `ParseBytes`, as dive reads `highestWastedBytes`: `20MB` = 20,000,000,
    `20MiB` = 20,971,520, `20m`, `20 kib`, `1,000`; the number is cut at the first character
    that is not a digit, `.` or `,`; the result is truncated to whole bytes."""
    digits = 0
    for ch in text:
        if not (ch.isdecimal() or ch in ".,"):
            break
        digits += 1
    number = go_parse_float(text[:digits].replace(",", ""))  # a non-ASCII digit fails here, as in Go
    unit = text[digits:].strip().lower()
    if unit not in _UNITS:
        raise ValueError(f"unhandled size name: {unit}")
    value = number * _UNITS[unit]
    if value >= 2.0**64:
        raise ValueError(f"too large: {text}")
    return int(value)


# ---- the figures and the rules ------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """The figures rules judge: layerscope's exact ones, or dive's (`source == "dive"`)."""

    source: str  # "layerscope" or "dive"
    efficiency: float
    wasted_bytes: int
    user_wasted_ratio: float  # wasted / bytes of the layers above the first (NaN for 0/0)
    image_bytes: int  # the layers' uncompressed tar bytes
    ignored_bytes: int  # waste left out by --ignore


@dataclass(frozen=True)
class Measure:
    """One rule's figure: `floor` rules fail below the threshold, the others above it."""

    key: str  # configuration key and flag name
    dive_key: str | None  # the `.dive-ci` key, for rules dive has
    title: str
    unit: str  # "ratio", "bytes" or "count"
    floor: bool
    default: float | int | None  # None: disabled unless configured
    measure: Callable[[Image, Figures], float | int | None]
    help: str

    def parse(self, value: object, where: str) -> float | int | None:
        """A threshold as written (a number, or a string in dive's forms); None for disabled."""
        if value is None or value == DISABLED:
            return None
        text = value if isinstance(value, str) else _go_string(value)
        try:
            if self.unit == "bytes":
                return humanize_parse_bytes(text)
            number = go_parse_float(text)
        except ValueError as exc:
            raise GateConfigError(f"{where}: {self.key}: invalid value {text!r} ({exc})") from None
        if self.unit == "ratio" and not 0 <= number <= 1 and not math.isnan(number):
            raise GateConfigError(f"{where}: {self.key}: {text!r} is outside the allowed range (0-1)")
        if self.unit == "count" and (number < 0 or number != int(number)):
            raise GateConfigError(f"{where}: {self.key}: {text!r} is not a whole number")
        return int(number) if self.unit == "count" else number


def _go_string(value: object) -> str:
    """How dive's configuration library turns a YAML or TOML scalar into the text it parses."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        from decimal import Decimal

        return format(Decimal(repr(value)), "f")  # Go's FormatFloat(v, 'f', -1, 64)
    raise GateConfigError(f"expected a number or a string, got {type(value).__name__}")


MEASURES: tuple[Measure, ...] = (
    Measure(
        "lowest-efficiency",
        "lowestEfficiency",
        "efficiency",
        "ratio",
        True,
        0.9,
        lambda image, f: f.efficiency,
        "fail when the efficiency (visible / stored bytes, 0-1) is below this",
    ),
    Measure(
        "highest-wasted-bytes",
        "highestWastedBytes",
        "wasted bytes",
        "bytes",
        False,
        None,
        lambda image, f: f.wasted_bytes,
        "fail when more bytes than this are wasted (20MB = 20,000,000; 20MiB = 20,971,520)",
    ),
    Measure(
        "highest-user-wasted-ratio",
        "highestUserWastedPercent",
        "user-wasted ratio",
        "ratio",
        False,
        0.1,
        lambda image, f: f.user_wasted_ratio,
        "fail when wasted bytes / bytes of the layers above the first (0-1) is above this",
    ),
    Measure(
        "highest-image-bytes",
        None,
        "image size",
        "bytes",
        False,
        None,
        lambda image, f: f.image_bytes,
        "fail when the layers' uncompressed size is above this",
    ),
    Measure(
        "highest-reclaimable-bytes",
        None,
        "reclaimable bytes",
        "bytes",
        False,
        None,
        lambda image, f: _hints(image).reclaimable,
        "fail when applying every hint would save more bytes than this (each stored copy once)",
    ),
    Measure(
        "highest-package-cache-bytes",
        None,
        "package-manager caches",
        "bytes",
        False,
        None,
        lambda image, f: sum(h.bytes_saved for h in _hints(image).hints if h.kind == PACKAGE_CACHE),
        "fail when package-manager caches (apt, apk, pip, npm, ...) in any layer hold more bytes than this",
    ),
    Measure(
        "highest-secrets",
        None,
        "credential-like files",
        "count",
        False,
        None,
        lambda image, f: sum(1 for h in _hints(image).hints if h.kind == SECRET),
        "fail when more credential-like files than this are in any layer (0: fail on any)",
    ),
)
BY_KEY = {m.key: m for m in MEASURES}
BY_DIVE_KEY = {m.dive_key.lower(): m for m in MEASURES if m.dive_key}


@dataclass
class GateConfig:
    """The rules to check and how: thresholds by measure key (None: disabled), the figures."""

    thresholds: dict[str, float | int | None] = field(default_factory=lambda: {m.key: m.default for m in MEASURES})
    figures: str = "layerscope"  # or "dive" (a `.dive-ci`, or `figures = "dive"`)
    ignore: list[str] = field(default_factory=list)
    origin: str | None = None  # the file the rules came from (None: the defaults)


@dataclass(frozen=True)
class RuleResult:
    key: str
    title: str
    unit: str
    floor: bool
    status: str  # PASS, FAIL or SKIP
    value: float | int | None
    threshold: float | int | None
    reason: str = ""  # why skipped


@functools.lru_cache(maxsize=64)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A path glob: `*` and `?` stay within a name, `**` crosses directories, `[…]` as fnmatch."""
    out, i, pattern = [], 0, pattern.strip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            out.append(fnmatch.translate(pattern[i : end + 1])[4:-3])  # fnmatch's class, unwrapped
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.S)


def ignored(path: str, patterns: Sequence[str]) -> bool:
    """Whether `path` (no leading /) or a directory above it matches one of the globs."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(_glob_regex(pat).fullmatch(p) for pat in patterns for p in prefixes)


def _ratio(numerator: int, denominator: int) -> float:
    if denominator:
        return numerator / denominator
    return math.inf if numerator else math.nan


def figures(image: Image, config: GateConfig, dive_figures: DiveAccumulator | None = None) -> Figures:
    """The figures of an analysed image, less the waste under `config.ignore` (dive's, from
    `dive_figures`, when `config.figures` says so)."""
    waste = image.waste
    assert waste is not None, "analyse() the image first"
    image_bytes = sum(layer.tar_size or 0 for layer in image.layers)
    upper = sum(layer.content_bytes for layer in image.layers[1:])
    if config.figures == "dive":
        assert dive_figures is not None, "gather dive's figures with dive_compat.watch(image)"
        keep = (lambda path: not ignored(path.lstrip("/"), config.ignore)) if config.ignore else None
        full = dive_figures.result()
        dive = dive_figures.result(keep)
        return Figures(
            "dive",
            dive.efficiency,
            dive.wasted_bytes,
            dive.user_wasted_percent,
            image_bytes,
            full.wasted_bytes - dive.wasted_bytes,
        )
    left_out = sum(i.size for i in waste.items if ignored(i.path, config.ignore)) if config.ignore else 0
    wasted = waste.wasted - left_out
    stored = waste.stored - left_out  # ignored waste counts as if it were not stored
    return Figures(
        "layerscope",
        waste.visible / stored if stored else 1.0,
        wasted,
        _ratio(wasted, upper),
        image_bytes,
        left_out,
    )


@functools.lru_cache(maxsize=1)
def _hints(image: Image) -> Hints:
    """The image's hints, worked out once for every rule that reads them (and only then)."""
    return compute_hints(image)


def evaluate(image: Image, config: GateConfig, measured: Figures) -> list[RuleResult]:
    """Every rule of `MEASURES`, passed, failed or skipped (disabled, or its analysis absent)."""
    results = []
    for m in MEASURES:
        threshold = config.thresholds.get(m.key)
        value = m.measure(image, measured) if threshold is not None else None
        if threshold is None:
            status, reason = SKIP, "disabled"
        elif value is None:
            status, reason = SKIP, "not measured for this image"
        else:
            failed = value < threshold if m.floor else value > threshold
            status, reason = (FAIL if failed else PASS), ""
        results.append(RuleResult(m.key, m.title, m.unit, m.floor, status, value, threshold, reason))
    return results
