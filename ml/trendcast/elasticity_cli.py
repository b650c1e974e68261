"""``trendcast elasticity``: estimate own-price elasticities and ask what a price change does.

Errors propagate: the root command prints a trendcast error as one line (exit 1, 2 for an unknown name).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from trendcast.exceptions import ConfigError

elasticity_app = typer.Typer(help="Price elasticity: estimate it, and what-if a price change.", no_args_is_help=True)


def _price_change(text: str) -> float:
    """Parse ``--price-change`` as a usage error (exit 2) when it is not a change above -100 %."""
    from trendcast.price_what_if import parse_price_change

    try:
        return parse_price_change(text)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None


@elasticity_app.command()
def estimate() -> None:
    """Estimate per category and item from the item-day mart into scores.*_price_elasticity."""
    from trendcast.console import console
    from trendcast.elasticity import run_elasticity

    report = run_elasticity()
    table = Table("category", "elasticity", "95 % interval", "items", "days", title=f"as of {report.scoring_date}")
    for row in report.categories.itertuples():
        interval = f"{row.elasticity_lo_95:.2f} .. {row.elasticity_hi_95:.2f}"
        table.add_row(row.category, f"{row.elasticity:.2f}", interval, str(row.n_items), f"{row.n_observations:,}")
    console.print(table)
    console.print(f"wrote {len(report.categories)} category and {len(report.items)} item elasticities")


@elasticity_app.command("what-if")
def what_if(
    price_change: Annotated[
        float, typer.Option("--price-change", parser=_price_change, help="Relative change: -10% or -0.1.")
    ],
    category: Annotated[str | None, typer.Option(help="A category (all its forecast items).")] = None,
    item: Annotated[str | None, typer.Option(help="One item id.")] = None,
) -> None:
    """Expected units and revenue over the latest forecast horizon after a price change."""
    from trendcast.console import console
    from trendcast.price_what_if import price_what_if

    r = price_what_if(price_change, category=category, item_id=item)
    console.print(
        f"{r.target}, price {r.price_change:+.0%}, elasticity {r.elasticity:.2f} "
        f"[{r.elasticity_lo_95:.2f}, {r.elasticity_hi_95:.2f}] ({r.elasticity_source}); "
        f"{r.n_items} items, {r.horizon_days} days from {r.forecast_date}"
    )
    console.print(
        f"units {r.units_base:,.0f} -> {r.units:,.0f} (95 %: {r.units_lo:,.0f} .. {r.units_hi:,.0f}); "
        f"revenue {r.revenue_base:,.2f} -> {r.revenue:,.2f} (95 %: {r.revenue_lo:,.2f} .. {r.revenue_hi:,.2f})"
    )
