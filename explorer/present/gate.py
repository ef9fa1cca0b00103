"""The CI gate's verdict in words: one line per rule, a JSON document, a JUnit XML file."""

from __future__ import annotations

import math
from xml.etree import ElementTree as ET

from ..analysis.gate import FAIL, SKIP, Figures, GateConfig, RuleResult
from ..analysis.image import Image
from .text import display_name, human_size

SCHEMA = "layerscope.ci/v1"


def _json_number(x: float | int | None) -> float | int | None:
    return x if x is None or isinstance(x, int) or math.isfinite(x) else None


def format_value(unit: str, value: float | int | None) -> str:
    if value is None:
        return "-"
    if unit == "bytes":
        return f"{value:,} B ({human_size(int(value))})"
    if unit == "ratio":
        return "NaN" if math.isnan(value) else ("+Inf" if math.isinf(value) else f"{value:.4f}")
    return f"{value:,}"


def rule_line(r: RuleResult) -> str:
    """`FAIL  highest-wasted-bytes: wasted bytes 242,140 B (242.1 kB) > 20,000,000 B (20.0 MB)`."""
    if r.status == SKIP:
        return f"SKIP  {r.key}: {r.reason}"
    value, threshold = format_value(r.unit, r.value), format_value(r.unit, r.threshold)
    op = {(True, True): "<", (True, False): ">=", (False, True): ">", (False, False): "<="}[r.floor, r.status == FAIL]
    return f"{r.status.upper()}  {r.key}: {r.title} {value} {op} {threshold}"


def passed(results: list[RuleResult]) -> bool:
    return all(r.status != FAIL for r in results)


def _image_name(image: Image) -> str:
    return image.names[0] if image.names else image.path


def gate_text(image: Image, config: GateConfig, figures: Figures, results: list[RuleResult]) -> str:
    origin = config.origin or "defaults"
    whose = "dive 0.13.1's figures" if figures.source == "dive" else "layerscope's figures"
    lines = [f"layerscope ci: {display_name(_image_name(image))} (rules: {display_name(origin)}; {whose})"]
    if config.ignore:
        lines.append(
            f"  ignoring {', '.join(display_name(p) for p in config.ignore)}: "
            f"{format_value('bytes', figures.ignored_bytes)} of waste left out"
        )
    lines += [f"  {rule_line(r)}" for r in results]
    failed = sum(r.status == FAIL for r in results)
    checked = sum(r.status != SKIP for r in results)
    verdict = "PASS" if not failed else "FAIL"
    lines.append(f"result: {verdict} ({checked - failed} passed, {failed} failed, {len(results) - checked} skipped)")
    return "\n".join(lines) + "\n"


def gate_dict(image: Image, config: GateConfig, figures: Figures, results: list[RuleResult]) -> dict:
    return {
        "schema": SCHEMA,
        "image": {
            "path": image.path,
            "names": image.names,
            "platform": image.platform,
            "manifest_digest": image.ref.manifest_digest,
        },
        "config": {"origin": config.origin, "figures": figures.source, "ignore": config.ignore},
        "figures": {
            "efficiency": _json_number(figures.efficiency),
            "wasted_bytes": figures.wasted_bytes,
            "user_wasted_ratio": _json_number(figures.user_wasted_ratio),
            "image_bytes": figures.image_bytes,
            "ignored_bytes": figures.ignored_bytes,
        },
        "rules": [
            {
                "key": r.key,
                "status": r.status,
                "value": _json_number(r.value),
                "threshold": _json_number(r.threshold),
                "comparison": ("<" if r.floor else ">") + " fails",
                "reason": r.reason or None,
            }
            for r in results
        ],
        "passed": passed(results),
    }


def gate_junit(image: Image, results: list[RuleResult]) -> bytes:
    """JUnit XML: one test case per rule (GitLab, Jenkins and GitHub test reporters read it)."""
    name = display_name(_image_name(image))
    suite = ET.Element(
        "testsuite",
        name=f"layerscope ci: {name}",
        tests=str(len(results)),
        failures=str(sum(r.status == FAIL for r in results)),
        errors="0",
        skipped=str(sum(r.status == SKIP for r in results)),
    )
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="layerscope.ci", name=r.key)
        if r.status == FAIL:
            ET.SubElement(case, "failure", message=rule_line(r), type="threshold").text = rule_line(r)
        elif r.status == SKIP:
            ET.SubElement(case, "skipped", message=r.reason)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
