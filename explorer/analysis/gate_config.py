"""Where the CI gate's rules come from: layerscope's TOML, or dive's `.dive-ci` read as dive reads it.

Files are looked for in the current directory, first found wins: `.layerscope.toml` (table
`[ci]`), `pyproject.toml` (table `[tool.layerscope.ci]`), then dive's `.dive-ci`. A `.dive-ci`
makes the figures dive's own, so its thresholds keep the meaning they had with dive.

dive 0.13.1 reads `.dive-ci` with viper: YAML (yaml.v3, the YAML 1.2 core schema), keys
matched whatever their case, each value turned into a string and parsed (a float, or
go-humanize bytes); a key that is missing or null takes dive's default (0.9, disabled, 0.1);
`disabled` disables; anything unparsable, or a ratio outside 0-1, is a configuration error.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from .gate import BY_DIVE_KEY, BY_KEY, MEASURES, GateConfig, GateConfigError

DIVE_CI = ".dive-ci"
OWN_TOML = ".layerscope.toml"
PYPROJECT = "pyproject.toml"
FIGURES = ("layerscope", "dive")


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML reads YAML 1.1 (`on` is true, `1e3` a string); dive's yaml.v3 reads YAML 1.2's core schema."""


_Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:int", r"[-+]?[0-9]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+.0123456789",
    ),
    ("tag:yaml.org,2002:null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
):
    _Yaml12Loader.add_implicit_resolver(_tag, re.compile(rf"^(?:{_pattern})$"), list(_first))


def read_dive_ci(path: Path) -> GateConfig:
    """A `.dive-ci` file, as dive 0.13.1 reads it."""
    try:
        data = yaml.load(path.read_bytes(), Loader=_Yaml12Loader)  # noqa: S506 (a safe loader)
    except OSError as exc:
        raise GateConfigError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise GateConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise GateConfigError(f"{path}: expected a YAML mapping with `rules:`")
    lowered = {str(k).lower(): v for k, v in data.items()}
    rules = lowered.get("rules")
    rules = {str(k).lower(): v for k, v in rules.items()} if isinstance(rules, dict) else {}
    config = GateConfig(figures="dive", origin=str(path))
    for dive_key, measure in BY_DIVE_KEY.items():
        value = rules.get(dive_key, lowered.get(f"rules.{dive_key}"))  # viper also finds a dotted key
        if value is not None:
            config.thresholds[measure.key] = measure.parse(value, str(path))
    return config


def read_toml(path: Path, table: tuple[str, ...]) -> GateConfig | None:
    """layerscope's own rules: the `table` of a TOML file (None when the file has no such table)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GateConfigError(f"{path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GateConfigError(f"{path}: not valid TOML ({exc})") from None
    for name in table:
        data = data.get(name) if isinstance(data, dict) else None
    if data is None:
        return None
    where = f"{path} [{'.'.join(table)}]"
    if not isinstance(data, dict):
        raise GateConfigError(f"{where}: expected a table")
    config = GateConfig(origin=str(path))
    for key, value in data.items():
        if key in BY_KEY:
            config.thresholds[key] = BY_KEY[key].parse(value, where)
        elif key == "figures":
            if value not in FIGURES:
                raise GateConfigError(f"{where}: figures: expected one of {', '.join(FIGURES)}, got {value!r}")
            config.figures = value
        elif key == "ignore":
            if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
                raise GateConfigError(f"{where}: ignore: expected a list of glob strings")
            config.ignore = list(value)
        else:
            known = ", ".join([m.key for m in MEASURES] + ["figures", "ignore"])
            raise GateConfigError(f"{where}: unknown key {key!r} (known: {known})")
    return config


def load_config(explicit: str | None, cwd: Path) -> GateConfig:
    """The rules from `--ci-config FILE` (TOML by its name, else dive's YAML), else from the
    first file found in `cwd`, else the defaults (dive's, applied to layerscope's figures)."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise GateConfigError(f"{explicit}: no such configuration file")
        if path.suffix == ".toml":
            table = ("tool", "layerscope", "ci") if path.name == PYPROJECT else ("ci",)
            config = read_toml(path, table)
            if config is None:
                raise GateConfigError(f"{explicit}: no [{'.'.join(table)}] table")
            return config
        return read_dive_ci(path)
    for name, table in ((OWN_TOML, ("ci",)), (PYPROJECT, ("tool", "layerscope", "ci"))):
        if (cwd / name).is_file() and (config := read_toml(cwd / name, table)) is not None:
            return config
    if (cwd / DIVE_CI).is_file():
        return read_dive_ci(cwd / DIVE_CI)
    return GateConfig()
