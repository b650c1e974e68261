"""The generation manifest: parameters, files, planted effects and expected cleaning counts."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "GenerationParams",
    "FileInfo",
    "PriceChange",
    "DatedItem",
    "Anomaly",
    "Holiday",
    "ItemInfo",
    "Planted",
    "GenerationManifest",
]


class GenerationParams(BaseModel):
    seed: int
    n_items: int
    n_customers: int
    start: date
    end: date = Field(description="Last calendar day covered (inclusive).")
    days: int
    lines_per_day: float = Field(description="Expected sale lines per calendar day (mean over all days).")
    chunk_days: int
    events: bool
    product_text: bool
    event_invoice_share: float


class FileInfo(BaseModel):
    rows: int
    bytes: int
    sha256: str
    row_groups: int


class PriceChange(BaseModel):
    stock_code: str
    date: date
    old_price: float
    new_price: float


class DatedItem(BaseModel):
    stock_code: str
    date: date


class Anomaly(BaseModel):
    date: date
    factor: float
    stock_code: str | None = None


class Holiday(BaseModel):
    date: date
    name: str
    factor: float = Field(description="0 = closed, else multiplier of normal trading.")


class ItemInfo(BaseModel):
    stock_code: str
    description: str
    category: str
    base_price: float
    pack_size: int
    quality: float = Field(description="Hidden quality N(0,1): lifts popularity and review ratings.")
    popularity: float = Field(description="Base share of the daily item mix.")


class Planted(BaseModel):
    """Everything a test or a model evaluation may assert; docs/generator.md explains each entry."""

    dow_multipliers: list[float] = Field(description="Monday..Sunday sale-line multipliers (Saturday 0).")
    yearly_amplitude: float
    yearly_peak_day_of_year: int
    december_ramp: tuple[float, float]
    december_ramp_days: tuple[int, int]
    shutdown_dates: list[date]
    bank_holidays: list[Holiday]
    closed_dates: list[date] = Field(description="Every calendar day without trading (Saturdays included).")
    category_seasonality: dict[str, str]
    elasticity: float
    price_changes: list[PriceChange]
    trend_start: date
    trend_end: date
    trend_up_factor: float
    trend_down_factor: float
    trending_up: list[str]
    trending_down: list[str]
    launches: list[DatedItem] = Field(description="Item on sale from this date (no sale before).")
    discontinuations: list[DatedItem] = Field(description="No sale on or after this date.")
    shop_anomalies: list[Anomaly]
    item_anomalies: list[Anomaly]
    segments: dict[str, list[int]]
    lapsed_after: dict[str, date] = Field(description="Lapsed customers (id as text) buy nothing from this date.")
    affinity_groups: list[list[str]]
    affinity_share: float
    active_last_30_days: list[int] = Field(description="Customers with a sale line in the final 30 days.")
    guest_invoice_share: float
    dirt_rates: dict[str, float]
    review_rating_model: str
    items: list[ItemInfo]


class GenerationManifest(BaseModel):
    """Written to ``<out>/manifest.json``."""

    version: int = 1
    generator: str = "trendcast.generate"
    params: GenerationParams
    files: dict[str, FileInfo]
    planted: Planted
    expected: dict[str, Any] = Field(description="CONTRACTS.md counts when transactions.parquet is ingested alone.")
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds per phase (not deterministic).")

    def write(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=1))

    @classmethod
    def load(cls, path: Path | str) -> GenerationManifest:
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        return cls.model_validate_json(path.read_text())
