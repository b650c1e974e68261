"""The Great Expectations side of validation: one ephemeral context per Data Docs folder, running a list of
expectations on a frame, and rendering merged results into Data Docs."""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from trendcast.quality.gx_outcomes import PARTIAL_UNEXPECTED
from trendcast.quality.suites import ExpectationSpec, SuiteSpec
from trendcast.settings import Settings

__all__ = ["DATA_DOCS_SITE", "gx_context", "data_docs_dir", "new_run_id", "run_gx", "write_data_docs"]

log = logging.getLogger(__name__)

DATA_DOCS_SITE = "trendcast"
_CONTEXTS: dict[str, Any] = {}


def new_run_id(now: dt.datetime | None = None) -> str:
    """A sortable, unique validation run id such as ``dq-20240131T060000Z-1a2b3c4d``."""
    now = now or dt.datetime.now(dt.UTC)
    return f"dq-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def data_docs_dir(settings: Settings) -> Path:
    return settings.state_path / "data_docs"


def gx_context(docs_dir: Path) -> Any:
    """One ephemeral GX context per process and Data Docs folder (building one costs little, importing GX seconds)."""
    key = str(docs_dir)
    if key not in _CONTEXTS:
        # No usage analytics: machines without internet would wait on them, and no data leaves the host.
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.add_data_docs_site(
            site_name=DATA_DOCS_SITE,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        asset = context.data_sources.add_pandas("trendcast_frames").add_dataframe_asset("frame")
        asset.add_batch_definition_whole_dataframe("whole_frame")
        _CONTEXTS[key] = context
    return _CONTEXTS[key]


def _batch_definition(context: Any) -> Any:
    return context.data_sources.get("trendcast_frames").get_asset("frame").get_batch_definition("whole_frame")


def run_gx(
    context: Any,
    suite_name: str,
    specs: list[ExpectationSpec],
    frame: pd.DataFrame,
    parameters: Mapping[str, Any],
) -> dict[str, Any]:
    """Run expectations on one frame; return GX's per-expectation results keyed by check name."""
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite

    name = f"{suite_name}-{uuid.uuid4().hex[:12]}"
    expectations = []
    for spec in specs:
        item = spec.to_gx_dict()
        item["meta"]["check"] = spec.check
        expectations.append(item)
    suite = context.suites.add(ExpectationSuite(name=name, expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(data=_batch_definition(context), suite=suite, name=name)
    )
    try:
        needed = {p for spec in specs for p in spec.parameters}
        result = definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters={k: v for k, v in parameters.items() if k in needed},
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": PARTIAL_UNEXPECTED},
        )
    finally:
        context.validation_definitions.delete(name)
        context.suites.delete(name)
    return {r.expectation_config.meta["check"]: r for r in result.results}


def write_data_docs(
    settings: Settings, suite: SuiteSpec, run_id: str, gx_results: list[Any], success: bool, batch: str
) -> str | None:
    """Store one merged validation result and render its Data Docs page; return the page path."""
    if not gx_results:
        return None
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = gx_context(data_docs_dir(settings))
    n_ok = sum(1 for r in gx_results if r.success)
    merged = ExpectationSuiteValidationResult(
        success=success,
        results=gx_results,
        suite_name=suite.name,
        statistics={
            "evaluated_expectations": len(gx_results),
            "successful_expectations": n_ok,
            "unsuccessful_expectations": len(gx_results) - n_ok,
            "success_percent": 100.0 * n_ok / len(gx_results),
        },
        meta={"run_id": run_id, "table": suite.table, "great_expectations_version": "1.24"},
    )
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
        run_id=RunIdentifier(run_name=run_id, run_time=dt.datetime.now(dt.UTC)),
        batch_identifier=batch,
    )
    try:
        context.validation_results_store.set(key, merged)
        context.build_data_docs(site_names=[DATA_DOCS_SITE], resource_identifiers=[key])
    except Exception:  # noqa: BLE001 - docs are a convenience; the gate's verdict must not depend on them
        log.warning("could not build Data Docs for %s", suite.name, exc_info=True)
        return None
    finally:
        _forget(context, key)
    pages = sorted((data_docs_dir(settings) / "validations" / suite.name / run_id).rglob("*.html"))
    return str(pages[-1]) if pages else str(data_docs_dir(settings) / "index.html")


def _forget(context: Any, key: Any) -> None:
    """Drop a stored result from the in-memory store so a long-lived process does not accumulate them."""
    try:
        context.validation_results_store.remove_key(key)
    except Exception:  # noqa: BLE001 - best effort
        log.debug("could not forget validation result %s", key)
