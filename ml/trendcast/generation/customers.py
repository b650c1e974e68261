"""Customers: 5-digit ids, countries and four latent behaviour segments."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SEGMENTS", "COUNTRIES", "GUEST_INVOICE_SHARE", "Customers", "build_customers", "sample_countries"]

# name: (share of customers, relative invoice rate). See docs/generator.md for what each one means.
SEGMENTS: dict[str, tuple[float, float]] = {
    "wholesaler": (0.08, 6.0),
    "loyal": (0.22, 3.0),
    "occasional": (0.45, 0.6),
    "lapsed": (0.25, 3.0),
}
# Customer countries, shares loosely after the real file (United Kingdom ~ 90 %).
COUNTRIES: dict[str, float] = {
    "United Kingdom": 0.885,
    "EIRE": 0.018,
    "Germany": 0.02,
    "France": 0.018,
    "Netherlands": 0.007,
    "Spain": 0.006,
    "Belgium": 0.005,
    "Switzerland": 0.005,
    "Portugal": 0.004,
    "Australia": 0.003,
    "Norway": 0.003,
    "Italy": 0.003,
    "Channel Islands": 0.003,
    "Finland": 0.002,
    "Sweden": 0.002,
    "Denmark": 0.002,
    "Cyprus": 0.002,
    "USA": 0.002,
    "Japan": 0.002,
    "European Community": 0.001,
    "RSA": 0.001,
    "Unspecified": 0.006,
}
COUNTRY_NAMES: tuple[str, ...] = tuple(COUNTRIES)
# Share of sale invoices without a customer id (guest checkouts); the real file has 15-25 %.
GUEST_INVOICE_SHARE = 0.17
_FIRST_ID = 12346


@dataclass
class Customers:
    customer_id: np.ndarray  # int64
    segment: np.ndarray  # int index into SEGMENTS
    country: np.ndarray  # int index into COUNTRY_NAMES
    rate: np.ndarray
    active_from: np.ndarray  # day offsets
    active_until: np.ndarray  # first day offset without purchases

    @property
    def n(self) -> int:
        return int(self.customer_id.shape[0])

    @property
    def is_wholesaler(self) -> np.ndarray:
        return self.segment == 0

    def weights(self, day: np.ndarray) -> np.ndarray:
        """Relative chance of each customer placing a given invoice, shape (len(day), n)."""
        alive = (day[:, None] >= self.active_from[None, :]) & (day[:, None] < self.active_until[None, :])
        return np.where(alive, self.rate[None, :], 0.0)


def sample_countries(rng: np.random.Generator, size: int) -> np.ndarray:
    p = np.array(list(COUNTRIES.values()))
    return rng.choice(len(COUNTRY_NAMES), size=size, p=p / p.sum())


def build_customers(rng: np.random.Generator, n_customers: int, days: int) -> Customers:
    """Draw customers; segment decides invoice rate, active window and (in transactions) basket quantities."""
    if n_customers < 20:
        raise ValueError(f"n_customers must be at least 20, got {n_customers}")
    span = max(4 * n_customers, 5942)
    if _FIRST_ID + span > 100_000:
        span = 100_000 - _FIRST_ID
    if n_customers > span:
        raise ValueError(f"at most {span} customers fit 5-digit ids, got {n_customers}")
    ids = np.sort(rng.choice(np.arange(_FIRST_ID, _FIRST_ID + span), size=n_customers, replace=False))
    shares = np.array([s for s, _ in SEGMENTS.values()])
    counts = np.floor(shares * n_customers).astype(int)
    counts[2] += n_customers - counts.sum()
    segment = rng.permutation(np.repeat(np.arange(len(SEGMENTS)), counts))
    rate = np.array([r for _, r in SEGMENTS.values()])[segment] * rng.lognormal(0.0, 0.3, n_customers)
    active_from = np.zeros(n_customers, dtype=np.int64)
    active_until = np.full(n_customers, days, dtype=np.int64)
    loyal_late = (segment == 1) & (rng.random(n_customers) < 0.3)
    active_from[loyal_late] = (rng.uniform(0.0, 0.5, loyal_late.sum()) * days).astype(np.int64)
    occasional = segment == 2
    active_from[occasional] = (rng.uniform(0.0, 0.9, occasional.sum()) * days).astype(np.int64)
    lapsed = segment == 3
    active_until[lapsed] = (rng.uniform(0.15, 0.6, lapsed.sum()) * days).astype(np.int64)
    country = sample_countries(rng, n_customers)
    return Customers(ids.astype(np.int64), segment, country, rate, active_from, active_until)
