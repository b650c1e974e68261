"""One champion/challenger comparison and one margin (settings ``promotion_margin``) for every target."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from trendcast.behaviour.propensity import _decide as propensity_decide
from trendcast.promotion_policy import improves, shortfall
from trendcast.settings import Settings

ML = Path(__file__).resolve().parents[1] / "ml" / "trendcast"


@pytest.mark.parametrize(
    ("challenger", "reference", "higher", "expected"),
    [
        (0.103, 0.100, True, True),  # +3 % NDCG
        (0.101, 0.100, True, False),  # +1 %: inside the 2 % margin
        (0.100, 0.100, True, False),  # a tie never improves
        (0.97, 1.00, False, True),  # WRMSSE 3 % lower
        (0.99, 1.00, False, False),
        (1.00, 1.00, False, False),
    ],
)
def test_improves_by_the_relative_margin(challenger: float, reference: float, higher: bool, expected: bool) -> None:
    assert improves(challenger, reference, margin=0.02, higher_is_better=higher) is expected


def test_shortfall_names_metric_margin_and_rival() -> None:
    assert shortfall("ndcg@10", 0.101, 0.1, "champion v3", margin=0.02, higher_is_better=True) == (
        "ndcg@10 0.1010 not 2% above champion v3's 0.1000"
    )
    assert shortfall("wrmsse", 0.9, 1.0, "SeasonalNaive", margin=0.02, higher_is_better=False) is None


def test_propensity_needs_the_margin_over_another_champion() -> None:
    baselines = {"recency_rule": {"roc_auc": 0.6, "log_loss": 0.7}}
    champion = {"roc_auc": 0.80, "log_loss": 0.50}
    margin = Settings().promotion_margin
    assert margin == 0.02
    slightly = {"roc_auc": 0.805, "log_loss": 0.495}  # < 2 % better on both
    clearly = {"roc_auc": 0.83, "log_loss": 0.48}
    assert propensity_decide(slightly, baselines, champion, margin=margin)[0] is False
    assert propensity_decide(clearly, baselines, champion, margin=margin)[0] is True
    assert propensity_decide(slightly, baselines, None, margin=margin)[0] is True


def test_no_target_keeps_a_margin_constant_of_its_own() -> None:
    """The drift this replaced: PROMOTION_MARGIN = 0.01 in the recommender beside settings' 0.02."""
    for path in ML.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                assert not any("MARGIN" in n for n in names), f"{path}: {names}"
