"""Great Expectations suites as reviewed JSON files in ``expectations/``: loading and their trendcast metadata.

A suite file is GX's own serialisation (``name``, ``expectations``, ``meta``) so ``ExpectationSuite(**json)``
reads it. trendcast adds, in ``meta.trendcast``: the warehouse ``table`` it guards, an optional ``scope``
(``{"latest": column}`` validates only the newest partition) and named derived ``frames``. Each expectation's
``meta`` carries a stable ``check`` name, a ``severity`` (``blocking`` stops the pipeline, ``warning`` is
only reported) and the ``frame`` it runs on (default ``rows``, the table itself).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trendcast.exceptions import ConfigError, UnknownNameError
from trendcast.settings import REPO_ROOT

__all__ = [
    "EXPECTATIONS_DIR",
    "SEVERITIES",
    "SuiteSpec",
    "ExpectationSpec",
    "load_suite",
    "load_suites",
    "resolve_suite",
]

EXPECTATIONS_DIR = REPO_ROOT / "expectations"
SEVERITIES = ("blocking", "warning")
_PARAM_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a suite, as written in its JSON file."""

    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any]

    @property
    def check(self) -> str:
        return str(self.meta.get("check") or _default_check_name(self.type, self.kwargs))

    @property
    def severity(self) -> str:
        return str(self.meta.get("severity", "blocking"))

    @property
    def frame(self) -> str:
        return str(self.meta.get("frame", "rows"))

    @property
    def column(self) -> str | None:
        """The column(s) the expectation looks at, for reports ("a, b" for pairs and lists)."""
        if "column" in self.kwargs:
            return str(self.kwargs["column"])
        if "column_A" in self.kwargs:
            return f"{self.kwargs['column_A']}, {self.kwargs['column_B']}"
        if "column_list" in self.kwargs:
            return ", ".join(map(str, self.kwargs["column_list"]))
        return None

    @property
    def columns(self) -> list[str]:
        """Columns the expectation needs loaded (empty for table-level ones)."""
        names: list[str] = []
        for key in ("column", "column_A", "column_B"):
            if key in self.kwargs:
                names.append(str(self.kwargs[key]))
        names.extend(str(c) for c in self.kwargs.get("column_list", []))
        return names

    @property
    def parameters(self) -> list[str]:
        """Names of the run-time parameters (``{"$PARAMETER": name}``) in the kwargs."""
        return [v["$PARAMETER"] for v in self.kwargs.values() if isinstance(v, dict) and "$PARAMETER" in v]

    def to_gx_dict(self) -> dict[str, Any]:
        return {"type": self.type, "kwargs": dict(self.kwargs), "meta": dict(self.meta)}


@dataclass(frozen=True)
class SuiteSpec:
    """A suite file: the table it guards and its expectations."""

    name: str
    table: str
    expectations: tuple[ExpectationSpec, ...]
    scope: dict[str, str] = field(default_factory=dict)
    frames: dict[str, str] = field(default_factory=dict)
    key: tuple[str, ...] = ()
    path: Path | None = None

    @property
    def schema_name(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def table_name(self) -> str:
        return self.table.split(".", 1)[1]

    def for_frame(self, frame: str) -> list[ExpectationSpec]:
        return [e for e in self.expectations if e.frame == frame]

    @property
    def frame_names(self) -> list[str]:
        return sorted({e.frame for e in self.expectations}, key=lambda f: (f != "rows", f))


def _default_check_name(type_: str, kwargs: dict[str, Any]) -> str:
    short = type_.removeprefix("expect_")
    column = kwargs.get("column") or kwargs.get("column_A")
    return f"{column}:{short}" if column else short


def _parse(raw: dict[str, Any], path: Path | None) -> SuiteSpec:
    where = str(path) if path else "suite"
    trendcast = (raw.get("meta") or {}).get("trendcast") or {}
    table = trendcast.get("table")
    if not raw.get("name") or not table or "." not in table:
        raise ConfigError(f"{where}: needs a name and meta.trendcast.table as 'schema.table', found {table!r}")
    frames = dict(trendcast.get("frames") or {})
    specs: list[ExpectationSpec] = []
    checks: set[str] = set()
    for i, item in enumerate(raw.get("expectations") or []):
        spec = ExpectationSpec(
            type=item["type"], kwargs=dict(item.get("kwargs") or {}), meta=dict(item.get("meta") or {})
        )
        if spec.severity not in SEVERITIES:
            raise ConfigError(
                f"{where}: expectation {i} ({spec.type}) has severity {spec.severity!r}, expected {SEVERITIES}"
            )
        if spec.frame != "rows" and spec.frame not in frames:
            raise ConfigError(
                f"{where}: expectation {spec.check} runs on frame {spec.frame!r}, not declared in meta.trendcast.frames"
            )
        if spec.check in checks:
            raise ConfigError(f"{where}: check name {spec.check!r} is used twice")
        bad = [p for p in spec.parameters if not _PARAM_RE.match(p)]
        if bad:
            raise ConfigError(f"{where}: bad parameter names {bad} in {spec.check}")
        checks.add(spec.check)
        specs.append(spec)
    if not specs:
        raise ConfigError(f"{where}: no expectations")
    scope = dict(trendcast.get("scope") or {})
    if scope and set(scope) != {"latest"}:
        raise ConfigError(f"{where}: meta.trendcast.scope supports only {{'latest': column}}, found {scope}")
    return SuiteSpec(
        name=raw["name"],
        table=table,
        expectations=tuple(specs),
        scope=scope,
        frames=frames,
        key=tuple(trendcast.get("key") or ()),
        path=path,
    )


def load_suite(path: Path | str) -> SuiteSpec:
    """Read one suite file; raise ConfigError naming the file on a malformed one."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read suite {path}: {exc}") from exc
    return _parse(raw, path)


def load_suites(directory: Path | None = None) -> dict[str, SuiteSpec]:
    """Every suite in ``expectations/`` keyed by suite name (sorted)."""
    directory = directory or EXPECTATIONS_DIR
    suites = [load_suite(p) for p in sorted(directory.glob("*.json"))]
    return {s.name: s for s in suites}


def resolve_suite(name: str, suites: dict[str, SuiteSpec]) -> SuiteSpec:
    """Find a suite by suite name, ``schema.table`` or bare table name."""
    if name in suites:
        return suites[name]
    for suite in suites.values():
        if name in (suite.table, suite.table_name):
            return suite
    known = ", ".join(f"{s.name} ({s.table})" for s in suites.values())
    raise UnknownNameError(f"no expectation suite for table {name!r}; known: {known}")
