"""Forecast promotion: move ``@champion`` to a challenger only when it wins on the same folds."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from trendcast.exceptions import ModelNotFoundError
from trendcast.forecasting.mlflow_session import registered_model_name, tracking_session
from trendcast.forecasting.registry import CHAMPION, ModelInfo, finite, resolve_version
from trendcast.promotion_policy import shortfall
from trendcast.settings import Settings, get_settings

if TYPE_CHECKING:
    from mlflow import MlflowClient


__all__ = ["BIAS_RANGE", "SEASONAL_NAIVE", "CHAMPION_KEY", "PromotionDecision", "promote_if_better"]

log = logging.getLogger(__name__)

#: A challenger's bias (sum of forecasts / sum of actuals over the backtest) must lie in this closed range.
BIAS_RANGE: tuple[float, float] = (0.85, 1.15)
#: Key of the SeasonalNaive entry in ``baseline_metrics`` (matched case- and punctuation-insensitively).
SEASONAL_NAIVE = "SeasonalNaive"
#: Optional key of ``baseline_metrics`` holding the current champion's metrics on the challenger's folds.
CHAMPION_KEY = "champion"


class PromotionDecision(BaseModel):
    """Outcome of :func:`promote_if_better`, logged to MLflow as tags and a JSON artifact."""

    target: str
    registered_model: str
    promoted: bool
    fallback: bool = Field(False, description="A baseline serving because no trained model passed promotion.")
    reason: str
    challenger_version: str
    champion_version: str | None = Field(None, description="Champion before the decision, if any.")
    challenger_wrmsse: float | None
    champion_wrmsse: float | None = None
    seasonal_naive_wrmsse: float | None = None
    challenger_bias: float | None
    margin: float
    decided_at: str


# --------------------------------------------------------------------------------------------- promotion


def _norm(key: str) -> str:
    return "".join(ch for ch in str(key).lower() if ch.isalnum())


def _metric(metrics: Mapping[str, Any] | None, name: str) -> float | None:
    for key, value in (metrics or {}).items():
        if _norm(key) == _norm(name) and finite(value):
            return float(value)
    return None


def _baseline(baselines: Mapping[str, Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    for key, value in baselines.items():
        if _norm(key) == _norm(name):
            return value
    return None


def _run_metrics(client: MlflowClient, run_id: str) -> dict[str, float]:
    return dict(client.get_run(run_id).data.metrics)


def promote_if_better(
    target: str,
    challenger_version: str | int,
    challenger_metrics: Mapping[str, float] | None,
    baseline_metrics: Mapping[str, Mapping[str, float]],
    margin: float | None = None,
    settings: Settings | None = None,
) -> PromotionDecision:
    """Move ``@champion`` to the challenger only when it wins on the same folds; log the decision either way.

    Rules (all must hold):
      * bias (sum forecast / sum actual) within :data:`BIAS_RANGE` — WRMSSE alone rewards shrunken forecasts;
      * WRMSSE at least ``margin`` (relative, 0.02 = 2 %) below SeasonalNaive's (``baseline_metrics``);
      * when a champion exists: WRMSSE at least ``margin`` below the champion's. The champion's WRMSSE is
        ``baseline_metrics["champion"]`` when the caller re-evaluated it on the challenger's folds, otherwise
        its logged WRMSSE if its ``fold_cutoffs`` tag equals the challenger's; without either, no promotion
        (metrics from different folds are not comparable). The same margin damps alias churn between
        models that are equally good.

    Args:
        challenger_metrics: Overall metrics with ``wrmsse`` and ``bias``; None reads them from the run.
        baseline_metrics: ``{"SeasonalNaive": {"wrmsse": …}, "champion": {...}?}`` on the challenger's folds.
        margin: Relative improvement required; default settings ``promotion_margin`` (0.02).
    """
    settings = settings or get_settings()
    if margin is None:
        margin = settings.promotion_margin
    name = registered_model_name(target)
    sn_wrmsse = _metric(_baseline(baseline_metrics, SEASONAL_NAIVE), "wrmsse")
    if sn_wrmsse is None:
        raise ValueError(
            f"baseline_metrics needs {SEASONAL_NAIVE!r} with a finite 'wrmsse'; got {dict(baseline_metrics)}"
        )
    with tracking_session(settings) as client:
        challenger = resolve_version(
            client, name, alias=None, version=challenger_version, run_id=None, settings=settings
        )
        if challenger_metrics is None:
            challenger_metrics = _run_metrics(client, challenger.run_id)
        try:
            champion: ModelInfo | None = resolve_version(
                client, name, alias=CHAMPION, version=None, run_id=None, settings=settings
            )
        except ModelNotFoundError:
            champion = None
        champion_wrmsse, champion_note = None, ""
        if champion is not None and champion.version != challenger.version:
            recomputed = _baseline(baseline_metrics, CHAMPION_KEY)
            if recomputed is not None:
                champion_wrmsse = _metric(recomputed, "wrmsse")
                champion_note = " (re-evaluated on the challenger's folds)"
            elif champion.fold_cutoffs == challenger.fold_cutoffs:
                champion_wrmsse = _metric(_run_metrics(client, champion.run_id), "wrmsse")
        decision = _decide(target, name, challenger, champion, challenger_metrics, sn_wrmsse, champion_wrmsse, margin)
        if champion_note and not decision.promoted:
            decision = decision.model_copy(update={"reason": decision.reason + champion_note})
        if champion is None or champion.version != challenger.version:  # keep the champion's own record
            _record(client, decision, challenger, champion)
    return decision


def _lower(margin: float) -> dict[str, Any]:
    return {"margin": margin, "higher_is_better": False}


def _decide(
    target: str,
    name: str,
    challenger: ModelInfo,
    champion: ModelInfo | None,
    challenger_metrics: Mapping[str, Any],
    sn_wrmsse: float,
    champion_wrmsse: float | None,
    margin: float,
) -> PromotionDecision:
    """Apply the promotion rules; every failed rule is named in the reason."""
    wrmsse = _metric(challenger_metrics, "wrmsse")
    bias = _metric(challenger_metrics, "bias")
    rival = champion if champion is not None and champion.version != challenger.version else None
    failures: list[str] = []
    if champion is not None and rival is None:
        failures.append(f"version {challenger.version} already is @{CHAMPION}")
    if wrmsse is None:
        failures.append("challenger has no finite wrmsse")
    if bias is None or not BIAS_RANGE[0] <= bias <= BIAS_RANGE[1]:
        shown = "none" if bias is None else f"{bias:.2f}"
        failures.append(f"bias {shown} outside [{BIAS_RANGE[0]}, {BIAS_RANGE[1]}]")
    if wrmsse is not None and (why := shortfall("wrmsse", wrmsse, sn_wrmsse, SEASONAL_NAIVE, **_lower(margin))):
        failures.append(why)
    if rival is not None and champion_wrmsse is None:
        failures.append(
            f"champion v{rival.version} was evaluated on other folds {list(rival.fold_cutoffs)} than the "
            f"challenger {list(challenger.fold_cutoffs)}: pass its metrics on the challenger's folds as "
            f"baseline_metrics[{CHAMPION_KEY!r}]"
        )
    elif rival is not None and wrmsse is not None:
        if why := shortfall("wrmsse", wrmsse, champion_wrmsse, f"champion v{rival.version}", **_lower(margin)):
            failures.append(why)
    if failures:
        reason = "; ".join(failures)
    else:
        versus = f"champion v{rival.version} {champion_wrmsse:.4f}" if rival else "no champion yet"
        reason = (
            f"wrmsse {wrmsse:.4f} beats SeasonalNaive {sn_wrmsse:.4f} and {versus} by >= {margin:.0%}; bias {bias:.3f}"
        )
    return PromotionDecision(
        target=target,
        registered_model=name,
        promoted=not failures,
        reason=reason,
        challenger_version=challenger.version,
        champion_version=champion.version if champion else None,
        challenger_wrmsse=wrmsse,
        champion_wrmsse=champion_wrmsse,
        seasonal_naive_wrmsse=sn_wrmsse,
        challenger_bias=bias,
        margin=margin,
        decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _record(
    client: MlflowClient, decision: PromotionDecision, challenger: ModelInfo, champion: ModelInfo | None
) -> None:
    """Tags on the run and versions plus a JSON artifact; the alias moves only when promoted."""
    outcome = "promoted" if decision.promoted else "rejected"
    model, reason = decision.registered_model, decision.reason[:5000]  # MLflow tag values are bounded
    client.set_tag(challenger.run_id, "trendcast.promotion", outcome)
    client.set_tag(challenger.run_id, "trendcast.promotion_reason", reason)
    client.log_dict(challenger.run_id, decision.model_dump(mode="json"), "promotion_decision.json")
    client.set_model_version_tag(model, challenger.version, "promotion", outcome)
    client.set_model_version_tag(model, challenger.version, "promotion_reason", reason)
    client.set_model_version_tag(model, challenger.version, "promotion_decided_at", decision.decided_at)
    if not decision.promoted:
        log.info("kept @%s of %s; v%s rejected: %s", CHAMPION, model, challenger.version, reason)
        return
    client.set_registered_model_alias(model, CHAMPION, challenger.version)
    client.set_model_version_tag(model, challenger.version, "promoted_at", decision.decided_at)
    if champion is not None:
        client.set_model_version_tag(model, champion.version, "replaced_by", challenger.version)
    log.info("promoted %s v%s to @%s: %s", model, challenger.version, CHAMPION, reason)
