"""What a validation produced, independent of GX objects: per-expectation outcomes and per-suite results."""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ExpectationOutcome", "SuiteResult", "GateResult", "to_jsonable", "short_repr"]

_SAMPLE_SIZE = 10


def to_jsonable(value: Any) -> Any:
    """Plain JSON-able Python values (dates as ISO text, NaN as None) for ops tables and emails."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, float | np.floating):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date | np.datetime64):
        stamp = pd.Timestamp(value)
        if pd.isna(stamp):
            return None
        return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | np.ndarray):
        return [to_jsonable(v) for v in value]
    return str(value)


def short_repr(value: Any, limit: int = 200) -> str:
    """A one-line text of a value for reports, cut at ``limit`` characters."""
    value = to_jsonable(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class ExpectationOutcome:
    """The result of one expectation of one suite run."""

    suite: str
    table: str
    check: str
    expectation_type: str
    column: str | None
    frame: str
    severity: str
    success: bool
    expected: str
    observed_value: Any = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    element_count: int | None = None
    unexpected_sample: list[Any] = field(default_factory=list)
    exception: str | None = None
    skipped: bool = False

    @property
    def blocking(self) -> bool:
        return self.severity == "blocking"

    @property
    def observed(self) -> str:
        """Observed value as text: the aggregate GX observed, or the count of unexpected rows."""
        if self.exception:
            return f"error: {self.exception}"
        if self.skipped:
            return "skipped"
        if self.observed_value is not None:
            return short_repr(self.observed_value)
        if self.unexpected_count is not None:
            pct = f" ({self.unexpected_percent:.3g} %)" if self.unexpected_percent is not None else ""
            return f"{self.unexpected_count:,} unexpected of {self.element_count or 0:,}{pct}"
        return ""

    def sample(self, size: int = _SAMPLE_SIZE) -> list[Any]:
        return [to_jsonable(v) for v in self.unexpected_sample[:size]]


@dataclass
class SuiteResult:
    """One suite validated against one table (or frame) in one run."""

    run_id: str
    suite: str
    table: str
    started_at: dt.datetime
    finished_at: dt.datetime
    outcomes: list[ExpectationOutcome]
    n_rows: int
    stats: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    expected_cutoff: dt.date | None = None
    data_docs_path: str | None = None

    @property
    def failed(self) -> list[ExpectationOutcome]:
        """Blocking expectations that failed."""
        return [o for o in self.outcomes if not o.success and o.blocking]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        """Non-blocking expectations that failed: reported, never stopping the pipeline."""
        return [o for o in self.outcomes if not o.success and not o.blocking]

    @property
    def success(self) -> bool:
        return not self.failed

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass
class GateResult:
    """Every suite of one gate run, and where its alert went."""

    run_id: str
    started_at: dt.datetime
    suites: list[SuiteResult]
    expected_cutoff: dt.date | None = None
    data_docs_index: str | None = None
    alert: Any = None  # trendcast.alerts.Delivery when an alert was sent or written
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(s.success for s in self.suites)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for s in self.suites for o in s.failed]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for s in self.suites for o in s.warnings]

    @property
    def failed_suites(self) -> list[SuiteResult]:
        return [s for s in self.suites if not s.success]
