"""Data quality: Great Expectations suites from ``expectations/``, the runner, ops.dq_results and the gate."""

from __future__ import annotations

from trendcast.quality.gate import default_expected_cutoff, run_gate, validate_tables
from trendcast.quality.outcomes import ExpectationOutcome, GateResult, SuiteResult
from trendcast.quality.runner import validate_frame
from trendcast.quality.suites import SuiteSpec, load_suite, load_suites

__all__ = [
    "GateResult",
    "SuiteResult",
    "ExpectationOutcome",
    "SuiteSpec",
    "run_gate",
    "validate_tables",
    "validate_frame",
    "default_expected_cutoff",
    "load_suite",
    "load_suites",
]
