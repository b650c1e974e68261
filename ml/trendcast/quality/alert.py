"""The alert email of a failed data-quality gate run: each failed expectation, observed vs expected, bad values.

Delivery (SMTP or the outbox) is :func:`trendcast.alerts.deliver`'s; this module only writes the message.
"""

from __future__ import annotations

import html
from email.message import EmailMessage

from trendcast.alerts import html_table, make_message, where_to_look
from trendcast.quality.outcomes import GateResult
from trendcast.settings import Settings, get_settings

__all__ = ["build_validation_alert", "SAMPLE_VALUES"]

#: Bad values quoted per failed expectation.
SAMPLE_VALUES = 5


def build_validation_alert(gate: GateResult, settings: Settings | None = None) -> EmailMessage:
    """The email for a failed gate run: each failed expectation with observed vs expected and bad values."""
    settings = settings or get_settings()
    failed_suites = gate.failed_suites
    names = ", ".join(s.suite for s in failed_suites) or "none"
    n_failed = len(gate.failures)
    subject = f"[trendcast] Data validation FAILED: {names} ({n_failed} blocking) run {gate.run_id}"
    when = gate.started_at.strftime("%Y-%m-%d %H:%M UTC")
    cutoff = gate.expected_cutoff.isoformat() if gate.expected_cutoff else "not set"
    docs = next((s.data_docs_path for s in failed_suites if s.data_docs_path), None) or gate.data_docs_index

    text = [
        "trendcast data validation FAILED: training and scoring were stopped; the last good forecasts stay in place.",
        "",
        f"Run id:          {gate.run_id}",
        f"Run date:        {when}",
        f"Expected cutoff: {cutoff}",
        "",
    ]
    parts = [
        '<h2 class="fail">trendcast data validation FAILED</h2>',
        "<p>Training and scoring were stopped; the last good forecasts stay in place.</p>",
        html_table(["run id", "run date", "expected cutoff"], [[gate.run_id, when, cutoff]]),
    ]
    for suite in gate.suites:
        if suite.success and not suite.warnings:
            continue
        status = "FAILED" if not suite.success else "passed with warnings"
        text += [f"Suite {suite.suite} on {suite.table} ({suite.n_rows:,} rows): {status}", ""]
        parts.append(
            f"<h3>Suite <code>{html.escape(suite.suite)}</code> on <code>{html.escape(suite.table)}</code>"
            f' ({suite.n_rows:,} rows): <span class="{"fail" if not suite.success else "warn"}">'
            f"{html.escape(status)}</span></h3>"
        )
        rows = []
        for outcome in suite.failed + suite.warnings:
            sample = outcome.sample(SAMPLE_VALUES)
            sample_text = ", ".join(repr(v) for v in sample) if sample else ""
            text += [
                f"  - {outcome.check} [{outcome.severity}] {outcome.expectation_type}"
                + (f" on {outcome.column}" if outcome.column else ""),
                f"      observed: {outcome.observed}",
                f"      expected: {outcome.expected}",
            ]
            if sample_text:
                text.append(f"      sample bad values: {sample_text}")
            rows.append(
                [
                    outcome.check,
                    outcome.severity,
                    outcome.expectation_type,
                    outcome.column or "",
                    outcome.observed,
                    outcome.expected,
                    sample_text,
                ]
            )
        text.append("")
        parts.append(
            html_table(
                ["check", "severity", "expectation", "column", "observed", "expected", "sample bad values"],
                rows,
            )
        )
    places = where_to_look(settings, docs, run_id=gate.run_id)
    text += ["Where to look:"] + [f"  {label}: {where}" for label, where in places]
    parts.append("<h3>Where to look</h3>" + html_table(["what", "where"], places))
    headers = {"X-Trendcast-Run-Id": gate.run_id, "X-Trendcast-Kind": "validation-failure"}
    return make_message(subject, "\n".join(text) + "\n", "".join(parts), settings, headers=headers)
