"""Turn GX's per-expectation results into :class:`ExpectationOutcome` rows: the expectation in words, failing
samples with their keys, chunk results merged into one, and which expectations are decided row by row."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from trendcast.quality.outcomes import ExpectationOutcome
from trendcast.quality.suites import ExpectationSpec, SuiteSpec

__all__ = ["PARTIAL_UNEXPECTED", "to_outcome", "merge_chunks", "is_row_wise", "expected_text", "sample_with_keys"]

#: Failing values kept per expectation (GX ``partial_unexpected_count`` and our key samples).
PARTIAL_UNEXPECTED = 20

log = logging.getLogger(__name__)


def expected_text(spec: ExpectationSpec, parameters: Mapping[str, Any]) -> str:
    """The expectation in words, parameters filled in, e.g. ``values between 0 and 1000000``."""
    from trendcast.quality.outcomes import short_repr

    kw = {
        k: (parameters.get(v["$PARAMETER"]) if isinstance(v, dict) and "$PARAMETER" in v else v)
        for k, v in spec.kwargs.items()
    }
    short = spec.type.removeprefix("expect_")
    parts = []
    if "min_value" in kw or "max_value" in kw:
        lo, hi = kw.get("min_value"), kw.get("max_value")
        parts.append(
            f"between {short_repr(lo) if lo is not None else '-inf'} and {short_repr(hi) if hi is not None else '+inf'}"
        )
    for key in ("value", "value_set", "type_list", "column_set", "regex", "or_equal", "exact_match"):
        if key in kw:
            value = kw[key]
            if isinstance(value, list) and len(value) > 12:
                value = f"{len(value)} values: {short_repr(value[:12], 120)}"
            parts.append(f"{key}={short_repr(value, 300)}")
    if kw.get("mostly") is not None:
        parts.append(f"mostly={kw['mostly']}")
    return f"{short}" + (f" ({', '.join(parts)})" if parts else "")


def to_outcome(
    suite: SuiteSpec,
    spec: ExpectationSpec,
    parameters: Mapping[str, Any],
    gx_result: Any | None = None,
    *,
    exception: str | None = None,
    skipped: bool = False,
) -> ExpectationOutcome:
    outcome = ExpectationOutcome(
        suite=suite.name,
        table=suite.table,
        check=spec.check,
        expectation_type=spec.type,
        column=spec.column,
        frame=spec.frame,
        severity=spec.severity,
        success=skipped,
        expected=expected_text(spec, parameters),
        exception=exception,
        skipped=skipped,
    )
    if gx_result is None:
        return outcome
    result = dict(gx_result.result or {})
    info = gx_result.exception_info or {}
    raised = info.get("raised_exception") if isinstance(info, dict) else False
    if raised:
        outcome.exception = str(info.get("exception_message") or "GX raised an exception")[:500]
        outcome.success = False
        return outcome
    outcome.success = bool(gx_result.success)
    outcome.observed_value = result.get("observed_value")
    outcome.unexpected_count = result.get("unexpected_count")
    outcome.unexpected_percent = result.get("unexpected_percent")
    outcome.element_count = result.get("element_count")
    sample = result.get("partial_unexpected_list")
    if sample is None and result.get("partial_missing_list") is not None:
        sample = result["partial_missing_list"]  # contain_set: the values that are missing
    outcome.unexpected_sample = list(sample or [])
    return outcome


def sample_with_keys(
    outcome: ExpectationOutcome,
    spec: ExpectationSpec,
    frame: pd.DataFrame,
    key: tuple[str, ...],
    parameters: Mapping[str, Any],
) -> None:
    """For a failed range check on a derived frame, show which day / item is bad, not just the value."""
    if outcome.success or outcome.exception or spec.type != "expect_column_values_to_be_between":
        return
    column = spec.kwargs.get("column")
    if column not in frame.columns or not all(k in frame.columns for k in key):
        return

    def value(name: str) -> Any:
        raw = spec.kwargs.get(name)
        return parameters.get(raw["$PARAMETER"]) if isinstance(raw, dict) and "$PARAMETER" in raw else raw

    values = pd.to_numeric(frame[column], errors="coerce")
    bad = pd.Series(False, index=frame.index)
    if value("min_value") is not None:
        bad |= values < value("min_value")
    if value("max_value") is not None:
        bad |= values > value("max_value")
    rows = frame.loc[bad, [*key, column]].head(PARTIAL_UNEXPECTED)
    if len(rows):
        outcome.unexpected_sample = [dict(zip(rows.columns, r, strict=True)) for r in rows.itertuples(index=False)]


def merge_chunks(outcomes: list[ExpectationOutcome], spec: ExpectationSpec) -> ExpectationOutcome:
    """Combine one row-wise expectation's outcomes over chunks: counts add up, ``mostly`` is re-applied."""
    first = outcomes[0]
    errors = [o.exception for o in outcomes if o.exception]
    if errors:
        first.exception, first.success = errors[0], False
        return first
    elements = sum(o.element_count or 0 for o in outcomes)
    unexpected = sum(o.unexpected_count or 0 for o in outcomes)
    # GX's denominators differ by expectation (non-null rows for most); rebuild them from each chunk's percent.
    denominators = sum(
        (o.unexpected_count or 0) * 100.0 / o.unexpected_percent if o.unexpected_percent else (o.element_count or 0)
        for o in outcomes
    )
    percent = 100.0 * unexpected / denominators if denominators else 0.0
    mostly = spec.kwargs.get("mostly")
    success = unexpected == 0 or (isinstance(mostly, int | float) and percent <= 100.0 * (1 - mostly) + 1e-12)
    sample: list[Any] = []
    for o in outcomes:
        sample.extend(o.unexpected_sample[: PARTIAL_UNEXPECTED - len(sample)])
    first.element_count, first.unexpected_count, first.unexpected_percent = elements, unexpected, percent
    first.unexpected_sample, first.success = sample, bool(success)
    return first


def is_row_wise(type_: str) -> bool:
    """True for expectations decided row by row (safe to run per chunk and add up)."""
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )
    from great_expectations.expectations.registry import get_expectation_impl

    if "unique" in type_ and "within_record" not in type_:
        return False
    impl = get_expectation_impl(type_)
    return issubclass(impl, ColumnMapExpectation | ColumnPairMapExpectation | MulticolumnMapExpectation)
