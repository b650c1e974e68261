"""The product catalogue: codes, descriptions, prices, hidden quality and the planted item-level effects."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "CATEGORIES",
    "CATEGORY_SEASONALITY",
    "ELASTICITY",
    "TREND_UP_FACTOR",
    "TREND_DOWN_FACTOR",
    "TREND_MAX_DAYS",
    "ITEM_SPIKE_FACTOR",
    "Catalog",
    "build_catalog",
    "trend_window_days",
]

CATEGORY_NOUNS: dict[str, list[str]] = {
    "candles": [
        "T-LIGHT HOLDER",
        "CANDLE",
        "SCENTED CANDLE",
        "CANDLE HOLDER",
        "LANTERN",
        "TEA LIGHTS",
        "NIGHT LIGHT",
        "CANDLESTICK",
        "VOTIVE HOLDER",
    ],
    "kitchen": [
        "CAKE STAND",
        "TEA CUP AND SAUCER",
        "MUG",
        "JAM JAR",
        "BAKING SET",
        "CAKE CASES",
        "TEA TOWEL",
        "LUNCH BOX",
        "EGG CUP",
        "BREAD BIN",
        "STORAGE TIN",
        "TEAPOT",
        "RECIPE BOX",
    ],
    "christmas": [
        "CHRISTMAS BAUBLE",
        "ADVENT CALENDAR",
        "CHRISTMAS TREE DECORATION",
        "PAPER CHAIN KIT",
        "STAR GARLAND",
        "CHRISTMAS STOCKING",
        "SANTA ORNAMENT",
        "CHRISTMAS CRACKERS",
        "WREATH",
    ],
    "bags": [
        "JUMBO BAG",
        "LUNCH BAG",
        "SHOPPER",
        "CHARLOTTE BAG",
        "GIFT BAG",
        "TOTE BAG",
        "PURSE",
        "WASH BAG",
    ],
    "stationery": [
        "NOTEBOOK",
        "PENCILS",
        "GIFT WRAP",
        "GREETING CARD",
        "STICKER SHEET",
        "ERASER",
        "PHOTO FRAME",
        "RIBBONS",
        "TISSUE PAPER",
        "WRAPPING PAPER",
    ],
    "toys": [
        "SKIPPING ROPE",
        "SPINNING TOP",
        "RAG DOLL",
        "JIGSAW",
        "PLAYING CARDS",
        "TOY CAR",
        "KNITTED RABBIT",
        "DOMINOES",
        "TOY SOLDIERS",
        "BUBBLES",
    ],
    "garden": [
        "WATERING CAN",
        "BIRD HOUSE",
        "PLANT POT",
        "HANGING BASKET",
        "GARDEN SIGN",
        "BIRD FEEDER",
        "SEED TIN",
        "WIND CHIME",
        "KNEELING PAD",
    ],
    "home decor": [
        "HANGING HEART",
        "DOORSTOP",
        "CUSHION COVER",
        "METAL SIGN",
        "COAT HANGER",
        "WALL CLOCK",
        "DOORMAT",
        "MIRROR",
        "HOT WATER BOTTLE",
        "BUNTING",
        "COAT RACK",
    ],
}
CATEGORIES: tuple[str, ...] = tuple(CATEGORY_NOUNS)
_CATEGORY_SHARE = np.array([0.10, 0.15, 0.12, 0.10, 0.12, 0.11, 0.10, 0.20])
_CATEGORY_PRICE = {
    "candles": 2.1,
    "kitchen": 3.0,
    "christmas": 1.7,
    "bags": 1.9,
    "stationery": 0.9,
    "toys": 1.6,
    "garden": 4.2,
    "home decor": 3.6,
}
COLOURS = [
    "WHITE",
    "RED",
    "PINK",
    "BLUE",
    "GREEN",
    "IVORY",
    "CREAM",
    "BLACK",
    "SILVER",
    "GOLD",
    "PURPLE",
    "ORANGE",
    "YELLOW",
    "PASTEL",
]
PATTERNS = [
    "RETROSPOT",
    "POLKA DOT",
    "HEART",
    "STAR",
    "UNION JACK",
    "PAISLEY",
    "REGENCY",
    "SKULL",
    "BIRD",
    "FLORAL",
    "GINGHAM",
    "VINTAGE",
    "SPACEBOY",
    "DOLLY GIRL",
    "WOODLAND",
    "ENGLISH ROSE",
    "BAROQUE",
    "LOVE",
]
MATERIALS = ["", "", "GLASS", "METAL", "WOODEN", "CERAMIC", "ENAMEL", "ZINC", "FELT", "KNITTED", "WICKER"]
PREFIXES = [
    "",
    "",
    "",
    "",
    "SET OF 3 ",
    "SET OF 6 ",
    "PACK OF 12 ",
    "SET 2 ",
    "JUMBO ",
    "MINI ",
    "LARGE ",
    "SMALL ",
]
PACK_SIZES = np.array([1, 2, 3, 4, 6, 8, 12, 24])
_PACK_P = np.array([0.22, 0.12, 0.08, 0.10, 0.20, 0.06, 0.17, 0.05])

# Multiplicative item-mix seasonality by category, as a function of day of year (see docs/generator.md).
CATEGORY_SEASONALITY = {
    "christmas": "0.25 + 3.5 * exp(-((doy - 330) / 35)^2)  (peaks late November)",
    "garden": "1 + 0.6 * cos(2 pi (doy - 160) / 365.25)  (peaks early June)",
}
ELASTICITY = -1.5
TREND_UP_FACTOR = 4.0
TREND_DOWN_FACTOR = 0.25
TREND_MAX_DAYS = 120
ITEM_SPIKE_FACTOR = 8.0


def trend_window_days(days: int) -> int:
    """Length of the final window over which trending cohorts move (120 days, less on short runs)."""
    return int(min(TREND_MAX_DAYS, max(14, days // 2)))


def category_season(category_idx: np.ndarray, doy: np.ndarray) -> np.ndarray:
    """Item-mix seasonality, shape (len(doy), len(category_idx))."""
    doy = doy[:, None].astype(float)
    out = np.ones((doy.shape[0], category_idx.shape[0]))
    christmas = 0.25 + 3.5 * np.exp(-(((doy - 330.0) / 35.0) ** 2))
    garden = 1.0 + 0.6 * np.cos(2 * np.pi * (doy - 160.0) / 365.25)
    out = np.where(category_idx[None, :] == CATEGORIES.index("christmas"), christmas, out)
    return np.where(category_idx[None, :] == CATEGORIES.index("garden"), garden, out)


def _snap_price(raw: np.ndarray) -> np.ndarray:
    """Shop-like price points with two decimals (multiples of 5p, some ending in 9p)."""
    snapped = np.maximum(np.round(raw * 20.0) / 20.0, 0.10)
    return np.round(snapped, 2)


@dataclass
class Catalog:
    """Arrays indexed by item position; roles are disjoint so each planted effect stays separable."""

    stock_code: np.ndarray  # str
    description: np.ndarray  # str, as printed on invoice lines (some with a trailing space)
    clean_description: np.ndarray
    noun: np.ndarray
    category: np.ndarray  # int index into CATEGORIES
    base_price: np.ndarray
    pack: np.ndarray
    quality: np.ndarray  # hidden, N(0, 1)
    popularity: np.ndarray  # base share of the item mix, sums to 1
    launch_day: np.ndarray  # day offset of launch, 0 = on sale from the start
    discontinue_day: np.ndarray  # first day offset with no sales; `days` = never
    price_change_day: np.ndarray  # -1 = no change
    new_price: np.ndarray
    trend: np.ndarray  # +1 up, -1 down, 0 stable
    trend_start_day: int
    affinity_groups: list[np.ndarray] = field(default_factory=list)
    item_spikes: list[tuple[int, int, float]] = field(default_factory=list)  # (day offset, item, factor)

    @property
    def n(self) -> int:
        return int(self.stock_code.shape[0])

    def price_on(self, day: np.ndarray) -> np.ndarray:
        """Shelf price per (day, item), shape (len(day), n)."""
        changed = (self.price_change_day[None, :] >= 0) & (day[:, None] >= self.price_change_day[None, :])
        return np.where(changed, self.new_price[None, :], self.base_price[None, :])

    def mix_weights(self, day: np.ndarray, doy: np.ndarray, days: int) -> np.ndarray:
        """Unnormalised item-mix weights per (day, item): popularity x season x trend x price x life cycle."""
        w = self.popularity[None, :] * category_season(self.category, doy)
        rel = (day[:, None] - self.trend_start_day) / max(1, days - 1 - self.trend_start_day)
        rel = np.clip(rel, 0.0, 1.0)
        w = w * np.where(self.trend[None, :] > 0, TREND_UP_FACTOR**rel, 1.0)
        w = w * np.where(self.trend[None, :] < 0, TREND_DOWN_FACTOR**rel, 1.0)
        w = w * (self.price_on(day) / self.base_price[None, :]) ** ELASTICITY
        alive = (day[:, None] >= self.launch_day[None, :]) & (day[:, None] < self.discontinue_day[None, :])
        w = np.where(alive, w, 0.0)
        for spike_day, item, factor in self.item_spikes:
            w[day == spike_day, item] *= factor
        return w


def _descriptions(rng: np.random.Generator, category: np.ndarray, family: np.ndarray) -> tuple[list, list]:
    """Unique upper-case descriptions; members of a variant family differ only by colour."""
    seen: set[str] = set()
    out, nouns = [], []
    family_stem: dict[int, tuple[str, str, str]] = {}
    for cat, fam in zip(category.tolist(), family.tolist(), strict=True):
        cat_name = CATEGORIES[cat]
        for _ in range(1000):
            if fam in family_stem:
                prefix, material, noun = family_stem[fam]
                words = [prefix + rng.choice(COLOURS), material, noun]
            else:
                prefix, material = str(rng.choice(PREFIXES)), str(rng.choice(MATERIALS))
                noun = str(rng.choice(CATEGORY_NOUNS[cat_name]))
                look = rng.choice(COLOURS if rng.random() < 0.5 else PATTERNS)
                words = [prefix + look, material, noun]
            text = " ".join(w for w in words if w)
            if text not in seen:
                break
            text = f"{text} {int(rng.integers(2, 99))}"  # rare: word lists exhausted
            if text not in seen:
                break
        family_stem.setdefault(fam, (prefix, material, noun))
        seen.add(text)
        out.append(text)
        nouns.append(noun)
    return out, nouns


def _pick(rng: np.random.Generator, pool: np.ndarray, k: int) -> np.ndarray:
    k = int(min(k, pool.size))
    return np.sort(rng.choice(pool, size=k, replace=False)) if k else np.empty(0, dtype=int)


def build_catalog(
    rng: np.random.Generator,
    n_items: int,
    days: int,
    open_days: np.ndarray,
    ordinary_days: np.ndarray | None = None,
) -> Catalog:
    """Draw the catalogue and assign the planted roles (trending, launches, discontinuations, price changes).

    ``open_days``: day offsets with trading; ``ordinary_days``: open days without a bank holiday (spikes).
    """
    ordinary_days = open_days if ordinary_days is None or not ordinary_days.size else ordinary_days
    if n_items < 10:
        raise ValueError(f"n_items must be at least 10 to plant every item effect, got {n_items}")
    # Variant families (e.g. 85123A / 85123B) share the five digits and differ by a letter and a colour.
    family_sizes: list[int] = []
    while sum(family_sizes) < n_items:
        family_sizes.append(1 if rng.random() < 0.8 else int(rng.integers(2, 5)))
    family_sizes[-1] -= sum(family_sizes) - n_items
    family_sizes = [s for s in family_sizes if s > 0]
    bases = rng.choice(np.arange(20000, 91000), size=len(family_sizes), replace=False)
    family = np.repeat(np.arange(len(family_sizes)), family_sizes)
    codes = []
    for base, size in zip(bases.tolist(), family_sizes, strict=True):
        codes += [str(base)] if size == 1 else [f"{base}{'ABCDEFG'[j]}" for j in range(size)]
    fam_category = rng.choice(len(CATEGORIES), size=len(family_sizes), p=_CATEGORY_SHARE / _CATEGORY_SHARE.sum())
    category = fam_category[family]
    clean, nouns = _descriptions(rng, category, family)
    # The real file has many descriptions with a trailing space; keep that quirk on ~15 % of items.
    trailing = rng.random(n_items) < 0.15
    description = np.array([c + " " if t else c for c, t in zip(clean, trailing, strict=True)], dtype=object)
    med = np.array([_CATEGORY_PRICE[CATEGORIES[c]] for c in category])
    base_price = _snap_price(med * np.exp(rng.normal(0.0, 0.6, n_items)))
    quality = rng.normal(0.0, 1.0, n_items)
    # Hidden quality lifts demand: popularity ~ lognormal x exp(0.4 q). Reviews reveal q (product_text.py).
    popularity = np.exp(rng.normal(0.0, 1.0, n_items) + 0.4 * quality)
    popularity /= popularity.sum()

    # Disjoint roles. Trend and price-change items come from the busier, non-seasonal half so the effects
    # are measurable on small runs; launches and discontinuations from anywhere.
    seasonal = np.isin(category, [CATEGORIES.index("christmas"), CATEGORIES.index("garden")])
    order = np.argsort(-popularity, kind="stable")
    busy = np.zeros(n_items, dtype=bool)
    busy[order[: max(n_items // 2, 8)]] = True
    free = np.ones(n_items, dtype=bool)

    def take(mask: np.ndarray, k: int) -> np.ndarray:
        chosen = _pick(rng, np.flatnonzero(mask & free), k)
        free[chosen] = False
        return chosen

    n_trend = max(2, round(0.05 * n_items))
    up = take(busy & ~seasonal, n_trend)
    down = take(busy & ~seasonal, n_trend)
    price_items = take(busy & ~seasonal, max(3, round(0.08 * n_items)))
    launched = take(np.ones(n_items, dtype=bool), max(2, round(0.06 * n_items)))
    discontinued = take(np.ones(n_items, dtype=bool), max(2, round(0.06 * n_items)))

    trend = np.zeros(n_items, dtype=np.int8)
    trend[up], trend[down] = 1, -1

    # Life-cycle and price-change days are open trading days, so "first sale on or after" is tight.
    def open_day_between(lo: float, hi: float, k: int) -> np.ndarray:
        pool = open_days[(open_days >= lo * days) & (open_days < hi * days)]
        pool = pool if pool.size else open_days
        return rng.choice(pool, size=k)

    launch_day = np.zeros(n_items, dtype=np.int64)
    launch_day[launched] = open_day_between(0.15, 0.6, launched.size)
    discontinue_day = np.full(n_items, days, dtype=np.int64)
    discontinue_day[discontinued] = open_day_between(0.3, 0.8, discontinued.size)
    price_change_day = np.full(n_items, -1, dtype=np.int64)
    price_change_day[price_items] = open_day_between(0.3, 0.7, price_items.size)
    factor = np.where(
        rng.random(price_items.size) < 0.5,
        rng.uniform(0.6, 0.8, price_items.size),
        rng.uniform(1.25, 1.5, price_items.size),
    )
    new_price = base_price.copy()
    new_price[price_items] = _snap_price(base_price[price_items] * factor)
    same = new_price[price_items] == base_price[price_items]  # tiny prices can snap back to the same point
    new_price[price_items[same]] = np.round(base_price[price_items[same]] + 0.10, 2)

    pack = rng.choice(PACK_SIZES, size=n_items, p=_PACK_P)
    stable = np.flatnonzero(free)
    n_groups = max(2, n_items // 25)
    groups = []
    # Group members have neighbouring popularity so their basket anchors fill evenly (clear lift).
    # The top sellers are left out: they are in most baskets anyway, so a planted affinity would not show.
    rank = np.empty(n_items, dtype=np.int64)
    rank[order] = np.arange(n_items)
    middle = stable[(rank[stable] >= n_items // 10) & busy[stable]]
    pool = middle if middle.size >= 3 * n_groups else stable
    pool = pool[np.argsort(-popularity[pool], kind="stable")]
    pos = 0
    for _ in range(n_groups):
        size = int(rng.integers(2, 4))
        if pos + size > pool.size:
            break
        groups.append(np.sort(pool[pos : pos + size]))
        pos += size
    # Spikes hit non-seasonal stable items below the top sellers (whose lines saturate: one line per basket),
    # drawn by popularity so that x8 stands out of an ordinary day.
    spike_pool = np.setdiff1d(stable[~seasonal[stable]], np.concatenate(groups) if groups else [])
    below_top = spike_pool[rank[spike_pool] >= n_items // 10]
    spike_pool = below_top if below_top.size else (spike_pool if spike_pool.size else stable)
    spike_p = popularity[spike_pool]
    spike_items = rng.choice(spike_pool, size=max(3, days // 60), p=spike_p / spike_p.sum())
    spike_days = rng.choice(ordinary_days, size=spike_items.size, replace=spike_items.size > ordinary_days.size)
    spikes = [(int(d), int(i), ITEM_SPIKE_FACTOR) for d, i in sorted(zip(spike_days, spike_items, strict=True))]
    return Catalog(
        stock_code=np.array(codes, dtype=object),
        description=description,
        clean_description=np.array(clean, dtype=object),
        noun=np.array(nouns, dtype=object),
        category=category,
        base_price=base_price,
        pack=pack,
        quality=quality,
        popularity=popularity,
        launch_day=launch_day,
        discontinue_day=discontinue_day,
        price_change_day=price_change_day,
        new_price=new_price,
        trend=trend,
        trend_start_day=days - trend_window_days(days),
        affinity_groups=groups,
        item_spikes=spikes,
    )
