"""Clickstream consistent with the transactions: view/cart/purchase sessions, favourites and searches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trendcast.generation.catalog import CATEGORIES, CATEGORY_NOUNS, Catalog
from trendcast.generation.transactions import Invoices, Lines

__all__ = [
    "EVENT_TYPES",
    "EVENT_INVOICE_SHARE",
    "ANONYMOUS_SESSIONS_PER_INVOICE",
    "RESEARCH_VIEW_SHARE",
    "QUERIES",
    "Events",
    "session_events",
]

EVENT_TYPES = ("view", "cart", "fav", "purchase", "search")
_V, _C, _F, _P, _S = range(5)
# Share of sale invoices that come with an online session (the rest were ordered by phone / e-mail).
EVENT_INVOICE_SHARE = 0.25
ANONYMOUS_SESSIONS_PER_INVOICE = 0.3
_BROWSE_VIEWS = 2.0
_FAV_SHARE = 0.08
_ABANDON_SHARE = 0.1
# Share of known customers' sale lines viewed in an earlier browse-only session (1-14 days before the order):
# the clickstream's view -> later purchase signal a recommender can use.
RESEARCH_VIEW_SHARE = 0.3
_RESEARCH_DAYS = (1, 15)
QUERIES: tuple[str, ...] = tuple(sorted({n.lower() for ns in CATEGORY_NOUNS.values() for n in ns} | set(CATEGORIES)))
_QUERY = {q: j for j, q in enumerate(QUERIES)}


@dataclass
class Events:
    cust: np.ndarray
    session: np.ndarray
    item: np.ndarray  # -1 = null
    category: np.ndarray  # -1 = null
    etype: np.ndarray
    query: np.ndarray  # -1 = null
    time_us: np.ndarray

    def __len__(self) -> int:
        return int(self.session.shape[0])


def _events(cust, session, item, category, etype, query, seconds) -> Events:
    n = np.broadcast_shapes(np.shape(session), np.shape(seconds))
    b = lambda v, t: np.broadcast_to(np.asarray(v, dtype=t), n).copy()  # noqa: E731
    return Events(
        b(cust, np.float64),
        b(session, np.int64),
        b(item, np.int32),
        b(category, np.int16),
        b(etype, np.int8),
        b(query, np.int32),
        b(seconds, np.int64) * 1_000_000,
    )


def session_events(
    rng: np.random.Generator,
    lines: Lines,
    invoices: Invoices,
    catalog: Catalog,
    *,
    next_session: int,
    share: float = EVENT_INVOICE_SHARE,
    research_share: float = RESEARCH_VIEW_SHARE,
    start_minute: int = 0,
) -> tuple[Events, int]:
    """Events for one chunk's sale invoices plus anonymous browsing; returns events sorted by time.

    ``research_share`` of known customers' sale lines were viewed in a browse-only session of the customer some
    days before the order (one session per researched invoice; none before ``start_minute``, epoch minutes).
    """
    k = invoices.key.size
    if not k:
        return _events(np.nan, np.empty(0), -1, -1, 0, -1, np.empty(0)), next_session
    query_of_item = np.array([_QUERY[n.lower()] for n in catalog.noun], dtype=np.int32)
    sel = rng.random(k) < share
    sess_of_inv = np.full(k, -1, dtype=np.int64)
    sess_of_inv[sel] = next_session + np.arange(int(sel.sum()))
    next_session += int(sel.sum())
    local = lines.inv - invoices.key[0]
    li = np.flatnonzero(sel[local])
    inv = local[li]
    item = lines.desc[li]  # for sale lines the description index is the item index
    cat = catalog.category[item]
    t = invoices.minute[inv] * 60
    cust = invoices.cust[inv]
    sess = sess_of_inv[inv]
    view_off = rng.integers(60, 2400, li.size)
    cart_off = (view_off * rng.uniform(0.05, 0.9, li.size)).astype(np.int64)
    parts = [
        _events(cust, sess, item, cat, _V, -1, t - view_off),
        _events(cust, sess, item, cat, _C, -1, t - cart_off),
        _events(cust, sess, item, cat, _P, -1, t),
    ]
    fav = rng.random(li.size) < _FAV_SHARE
    parts.append(_events(cust[fav], sess[fav], item[fav], cat[fav], _F, -1, t[fav] - view_off[fav] + 5))
    # Browsing inside purchase sessions: extra product views, some abandoned in the cart.
    si = np.flatnonzero(sel)
    n_browse = rng.poisson(_BROWSE_VIEWS, si.size)
    b_inv = np.repeat(si, n_browse)
    b_item = rng.choice(catalog.n, size=b_inv.size, p=catalog.popularity)
    b_t = invoices.minute[b_inv] * 60 - rng.integers(60, 3000, b_inv.size)
    parts.append(_events(invoices.cust[b_inv], sess_of_inv[b_inv], b_item, catalog.category[b_item], _V, -1, b_t))
    ab = rng.random(b_inv.size) < _ABANDON_SHARE
    parts.append(
        _events(
            invoices.cust[b_inv[ab]],
            sess_of_inv[b_inv[ab]],
            b_item[ab],
            catalog.category[b_item[ab]],
            _C,
            -1,
            b_t[ab] + 20,
        )
    )
    # A search opening half of the purchase sessions, for the first purchased item's noun or category.
    first_line = np.unique(inv, return_index=True)[1]
    searched = first_line[rng.random(first_line.size) < 0.5]
    by_cat = rng.random(searched.size) < 0.3
    q = np.where(by_cat, np.array([_QUERY[c] for c in CATEGORIES])[cat[searched]], query_of_item[item[searched]])
    parts.append(
        _events(
            cust[searched],
            sess[searched],
            -1,
            cat[searched],
            _S,
            q,
            t[searched] - 2400 - rng.integers(0, 600, searched.size),
        )
    )
    # Anonymous browse-only sessions, on the same days and around the same times as real invoices.
    n_anon = int(rng.poisson(ANONYMOUS_SESSIONS_PER_INVOICE * k))
    ref = rng.integers(0, k, n_anon)
    a_sess = next_session + np.arange(n_anon)
    next_session += n_anon
    n_views = 1 + rng.integers(0, 6, n_anon)
    v_sess = np.repeat(np.arange(n_anon), n_views)
    v_item = rng.choice(catalog.n, size=v_sess.size, p=catalog.popularity)
    v_t = invoices.minute[ref[v_sess]] * 60 + rng.integers(-1800, 1800, v_sess.size)
    parts.append(_events(np.nan, a_sess[v_sess], v_item, catalog.category[v_item], _V, -1, v_t))
    cart = rng.random(v_sess.size) < 0.2
    parts.append(
        _events(np.nan, a_sess[v_sess[cart]], v_item[cart], catalog.category[v_item[cart]], _C, -1, v_t[cart] + 30)
    )
    s_anon = np.flatnonzero(rng.random(n_anon) < 0.6)
    s_cat = rng.integers(0, len(CATEGORIES), s_anon.size)
    parts.append(
        _events(
            np.nan,
            a_sess[s_anon],
            -1,
            s_cat,
            _S,
            np.array([_QUERY[c] for c in CATEGORIES])[s_cat],
            invoices.minute[ref[s_anon]] * 60 - 1900,
        )
    )
    # Research: known customers view some of an order's items in their own browse-only session days before.
    r_line = np.flatnonzero((rng.random(local.size) < research_share) & ~np.isnan(invoices.cust[local]))
    r_inv = local[r_line]
    lag_days = rng.integers(*_RESEARCH_DAYS, invoices.key.size)[r_inv]
    r_t = (invoices.minute[r_inv] - lag_days * 1440) * 60 - rng.integers(0, 3600, r_inv.size)
    keep = r_t >= start_minute * 60
    r_line, r_inv, r_t = r_line[keep], r_inv[keep], r_t[keep]
    r_sessions, r_sess = np.unique(r_inv, return_inverse=True)
    r_item = lines.desc[r_line]
    parts.append(_events(invoices.cust[r_inv], next_session + r_sess, r_item, catalog.category[r_item], _V, -1, r_t))
    next_session += r_sessions.size
    out = Events(*(np.concatenate([getattr(p, f) for p in parts]) for f in Events.__dataclass_fields__))
    order = np.lexsort((out.etype, out.session, out.time_us))
    return Events(*(getattr(out, f)[order] for f in Events.__dataclass_fields__)), next_session
