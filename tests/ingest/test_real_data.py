"""Both Online Retail II files load completely under the default (reject) policy, and only once."""

from __future__ import annotations

import logging
import resource
import time
from pathlib import Path

import pytest
from ingest_helpers import REAL_DATA, fetch, raw_counts

from trendcast.ingestion import ingest_paths
from trendcast.settings import Settings

pytestmark = [pytest.mark.real_data, pytest.mark.slow]
log = logging.getLogger(__name__)

FILES = {"online_retail_ii_2009_2010.parquet": 525_461, "online_retail_ii_2010_2011.parquet": 541_909}


@pytest.fixture
def real_files() -> list[Path]:
    paths = [REAL_DATA / name for name in FILES]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        pytest.skip(f"real dataset absent: {', '.join(map(str, missing))}")
    return paths


def test_real_files_load_completely_and_only_once(settings: Settings, real_files: list[Path]) -> None:
    start = time.perf_counter()
    results = ingest_paths(real_files, settings=settings)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log.warning("real data ingest: %.1f s, peak RSS %.0f MiB (whole pytest process)", seconds, peak_mib)

    assert [(Path(r.source_file).name, r.rows_loaded, r.rows_quarantined) for r in results] == [
        (name, rows, 0) for name, rows in FILES.items()
    ]
    counts = raw_counts(settings)
    assert counts["transactions"] == sum(FILES.values()) == 1_067_370
    assert counts["ingest_batches"] == 2 and counts["transactions_quarantine"] == 0
    # Values survive typing: the README's totals and quirks, per file.
    totals = fetch(
        settings,
        """
        select b.source_file, round(sum(t.quantity * t.price), 2), count(t.customer_id),
               count(*) filter (where t.description is null), count(*) filter (where t.price < 0),
               min(t.invoice_date), max(t.invoice_date)
        from raw.transactions t join raw.ingest_batches b on b.batch_id = t._batch_id
        group by 1 order by 1""",
    )
    assert [(Path(r[0]).name, r[1], r[2], r[3], r[4]) for r in totals] == [
        ("online_retail_ii_2009_2010.parquet", 9_539_484.63, 525_461 - 107_927, 2_928, 3),
        ("online_retail_ii_2010_2011.parquet", 9_747_747.93, 541_909 - 135_080, 1_454, 2),
    ]
    assert str(totals[0][5]) == "2009-12-01 07:45:00" and str(totals[1][6]) == "2011-12-09 12:50:00"
    assert fetch(settings, "select count(*) from raw.transactions where customer_id like '%.%'") == [(0,)]

    again = ingest_paths([REAL_DATA], settings=settings)
    assert [r.skipped for r in again] == [True, True]
    assert raw_counts(settings) == counts
