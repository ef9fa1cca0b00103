"""`layerscope ci`: judge an image by rules and exit 0 (pass), 1 (a rule failed) or 2 (an error).

dive exits 1 both when a rule fails and when the image cannot be read; a pipeline then
cannot tell a bloated image from a broken job. Here an error is 2, like every user error.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .opening import analysing, opened
from .options import add_open_options, start_pool
from .remote import add_registry_options

if TYPE_CHECKING:
    from ..analysis.dive_compat import DiveAccumulator
    from ..analysis.gate import GateConfig
    from ..analysis.image import Image

CI_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool, as dive reads CI


def ci_requested(argv: Sequence[str]) -> bool:
    """`CI=true layerscope IMAGE` runs the gate, as with dive, but only where no one can use the
    app: standard output is not a terminal (a CI job's log) and no Textual driver is named (the
    app that `serve` starts for a browser talks through pipes). Otherwise the app opens."""
    return (
        os.environ.get("CI", "") in CI_TRUE
        and not sys.stdout.isatty()
        and not os.environ.get("TEXTUAL_DRIVER")
        and "--demo" not in argv
        and any(not a.startswith("-") for a in argv)
    )


def _parser() -> argparse.ArgumentParser:
    from ..analysis.gate import MEASURES

    parser = argparse.ArgumentParser(
        prog="layerscope ci",
        description="Check an image against size and waste rules: exit 0 pass, 1 a rule failed, 2 error.",
        epilog="Rules come from --ci-config, else .layerscope.toml ([ci]), pyproject.toml ([tool.layerscope.ci])"
        " or dive's .dive-ci in the current directory, else the defaults; flags override them.",
    )
    parser.add_argument(
        "path", metavar="IMAGE", help="archive, OCI directory, -, registry://HOST/REPO:TAG, docker:IMAGE"
    )
    parser.add_argument("--ci-config", metavar="FILE", help="rules file: dive's YAML .dive-ci, or a .toml")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON (schema in the README)")
    parser.add_argument("--junit", metavar="FILE", help="also write the verdict as JUnit XML")
    parser.add_argument(
        "--ignore", nargs="+", default=[], metavar="GLOB", help="leave waste under these paths out of the figures"
    )
    parser.add_argument(
        "--figures",
        choices=("layerscope", "dive"),
        help="judge layerscope's exact figures or dive's (default: dive's with a .dive-ci, else layerscope's)",
    )
    rules = parser.add_argument_group("rules (override the configuration; 'disabled' turns one off)")
    for m in MEASURES:
        rules.add_argument(f"--{m.key}", metavar="N", help=m.help)
    add_open_options(parser)
    add_registry_options(parser)
    return parser


def run(argv: Sequence[str]) -> int:
    """`layerscope ci IMAGE`: analyse, evaluate the rules, print the verdict; 0, 1 or 2. The
    verdict of an unchanged image under the same rules is the one the layer cache kept (see
    `analysis/resultcache.py`): printed, and its JUnit file written, without analysing."""
    args = _parser().parse_args(argv)
    with start_pool(args.path, args) as pool:  # the workers start while the model is imported
        from ..analysis.gate import MEASURES
        from ..analysis.gate_config import load_config

        config = load_config(args.ci_config, Path.cwd())
        for m in MEASURES:
            value = getattr(args, m.key.replace("-", "_"))
            if value is not None:
                config.thresholds[m.key] = m.parse(value, f"--{m.key}")
        config.figures = args.figures or config.figures
        config.ignore = [*config.ignore, *args.ignore]
        with opened(args, pool) as image:
            from ..analysis.resultcache import KeptResult

            # the rules as resolved decide the verdict: thresholds, figures, globs, their file's name
            kept = KeptResult(image, "ci", "json" if args.json else "text", repr(config))
            result = kept.kept()
            if result is not None:
                pool.close()
            else:
                with analysing(image, dive=config.figures == "dive") as dive:
                    result = _verdict(image, config, dive, args.json)
                kept.keep(result)
    verdict = json.loads(result)
    sys.stdout.write(verdict["out"])
    if args.junit:
        _write(args.junit, base64.b64decode(verdict["junit"]))
    sys.stdout.flush()
    return 0 if verdict["passed"] else 1


def _verdict(image: Image, config: GateConfig, dive: DiveAccumulator | None, as_json: bool) -> bytes:
    """What `ci` prints and writes for the analysed `image`, as one value the cache can keep:
    the output, the JUnit XML (made whether asked for or not: a later `--junit` finds it), and
    whether every rule passed."""
    from ..analysis.gate import evaluate, figures
    from ..present.gate import gate_dict, gate_junit, gate_text, passed
    from ..present.indented_json import dumps_indented

    measured = figures(image, config, dive)
    results = evaluate(image, config, measured)
    if as_json:
        out = dumps_indented(gate_dict(image, config, measured, results)) + "\n"
    else:
        out = gate_text(image, config, measured, results)
    junit = base64.b64encode(gate_junit(image, results)).decode("ascii")
    return json.dumps({"out": out, "junit": junit, "passed": passed(results)}).encode("ascii")


def _write(path: str, data: bytes) -> None:
    from ..archive.errors import ImageError

    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise ImageError(f"{path}: {exc.strerror or exc}") from None
