"""Jinja environment of the dashboard pages and the report, and the bundled plotly.js."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["TEMPLATES_DIR", "page_environment", "plotly_js_path"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):,.{digits}f}"


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):+.0%}"


@lru_cache
def page_environment() -> jinja2.Environment:
    """Autoescaping environment over the package's templates, with ``num`` and ``pct`` filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    return env


def plotly_js_path() -> Path:
    """The minified plotly.js shipped inside the ``plotly`` package (served locally: no CDN, works offline)."""
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
