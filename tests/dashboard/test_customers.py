"""Propensity and recommendation pages on the planted customer scores: values shown, lookups, hostile input."""

from __future__ import annotations

import re

import duckdb
import pytest
from fastapi.testclient import TestClient

from tests.dashboard.conftest import read, warehouse_fingerprint
from tests.dashboard.test_app import HOSTILE
from tests.dashboard.warehouse_fixture import PROPENSITY_MODEL, RECOMMENDER_MODEL, SALT
from trendcast.dashboard import create_app
from trendcast.dashboard.views import NOT_A_CUSTOMER_KEY
from trendcast.settings import Settings
from trendcast.snapshot import publish_snapshot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def planted(demo_warehouse: tuple[Settings, dict]) -> dict:
    return demo_warehouse[1]["scores"]


def test_propensity_shows_the_latest_date_customers_above_half_and_the_model(
    client: TestClient, demo_settings: Settings, planted: dict
) -> None:
    data = client.get("/api/propensity").json()
    summary = data["summary"]
    # the older scoring date (every customer at 0.9) is not counted
    assert summary["scoring_date"] == planted["scoring_date"] and summary["customers"] == planted["customers"] > 100
    assert summary["above_threshold"] == planted["above_half"] < planted["customers"]
    assert (summary["model_name"], summary["model_version"]) == PROPENSITY_MODEL
    assert len(data["histogram"]) == 20 and sum(b["customers"] for b in data["histogram"]) == planted["customers"]
    above = sum(b["customers"] for b in data["histogram"] if b["low"] >= 0.5)
    assert (
        above
        == read(
            demo_settings,
            "select count(*) as n from scores.customer_purchase_propensity "
            "where scoring_date = :d and purchase_probability >= 0.5",
            d=planted["scoring_date"],
        )["n"].item()
    )
    by_segment = {row["segment"]: row["mean_probability"] for row in data["segments"]}
    assert by_segment == pytest.approx(planted["mean_by_segment"])
    assert data["segments"][0]["segment"] == "high-value frequent"  # highest mean first
    assert data["top_customers"][0]["purchase_probability"] == max(
        r["purchase_probability"] for r in data["top_customers"]
    )

    stricter = client.get("/api/propensity", params={"threshold": 0.8}).json()["summary"]["above_threshold"]
    assert (
        stricter
        == read(
            demo_settings,
            "select count(*) as n from scores.customer_purchase_propensity "
            "where scoring_date = :d and purchase_probability > 0.8",
            d=planted["scoring_date"],
        )["n"].item()
        < planted["above_half"]
    )

    page = client.get("/propensity")
    assert page.status_code == 200
    assert f'<strong id="above-threshold">{planted["above_half"]:,}</strong>' in page.text
    assert f"Scoring date {planted['scoring_date']} · model {PROPENSITY_MODEL[0]} v{PROPENSITY_MODEL[1]}" in page.text
    assert 'id="propensity-chart"' in page.text and 'id="propensity-segment-chart"' in page.text


def test_most_recommended_items_and_a_customers_top_10(
    client: TestClient, demo_settings: Settings, planted: dict
) -> None:
    data = client.get("/api/recommendations", params={"limit": 10}).json()
    assert data["summary"]["customers"] == planted["customers"]
    assert (data["summary"]["model_name"], data["summary"]["model_version"]) == RECOMMENDER_MODEL
    expected = sorted(planted["recommended_counts"].items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(row["item_id"], row["customers"]) for row in data["top_items"]] == expected
    texts = read(demo_settings, "select item_id, description from marts.ml_item_text")
    description = dict(zip(texts["item_id"], texts["description"], strict=True))
    assert all(row["description"] == description[row["item_id"]] for row in data["top_items"])

    key = planted["example_customer"]
    rows = client.get(f"/api/recommendations/{key}").json()["items"]
    assert [row["item_id"] for row in rows] == planted["example_items"]
    assert [row["rank"] for row in rows] == list(range(1, 11))
    assert all(row["description"] == description[row["item_id"]] for row in rows)
    assert client.get(f"/api/recommendations/{key.upper()}").json()["items"] == rows

    page = client.get("/recommendations", params={"customer": key.upper()})
    assert page.status_code == 200 and f"Customer key <code>{key}</code>" in page.text
    assert all(row["item_id"] in page.text and row["description"] in page.text for row in rows)
    assert page.text.count("<tr><td>") >= 10 + len(client.get("/api/recommendations").json()["top_items"])


def test_raw_customer_ids_are_never_mapped_to_keys(client: TestClient, demo_settings: Settings, planted: dict) -> None:
    """Enumerating raw ids (200 that exist, 20 that do not) yields one identical 400 and no key, no list."""
    customers = read(
        demo_settings,
        "select trim(customer_id) as raw_id, sha256(:salt || trim(customer_id)) as customer_key "
        "from raw.transactions where customer_id is not null group by 1 order by 1 limit 200",
        salt=SALT,
    )
    assert len(customers) == 200
    recommended = set(
        read(demo_settings, "select distinct customer_key from scores.customer_recommendations")["customer_key"]
    )
    assert len(recommended & set(customers["customer_key"])) > 100  # these ids do have recommendations
    answers, pages = set(), set()
    for raw_id in [*customers["raw_id"], *(f"{n}" for n in range(990_000, 990_020))]:
        api = client.get(f"/api/recommendations/{raw_id}")
        page = client.get("/recommendations", params={"customer": raw_id})
        assert (api.status_code, page.status_code) == (400, 400), raw_id
        answers.add(api.text)
        assert "Not a customer key" in page.text and "Customer key <code>" not in page.text
        pages.add(re.sub(r'value="[^"]*"', 'value=""', page.text))
    assert answers == {'{"detail":"' + NOT_A_CUSTOMER_KEY + '"}'}
    assert len(pages) == 1  # pages differ only in the form echoing the input
    leaked = [key for key in customers["customer_key"] if key in next(iter(pages))]
    assert leaked == []
    # a key still works, in any case
    key = planted["example_customer"]
    assert client.get(f"/api/recommendations/{key.upper()}").json()["customer_key"] == key


def test_unknown_and_hostile_customers_give_4xx_and_change_nothing(client: TestClient, demo_settings: Settings) -> None:
    before = warehouse_fingerprint(demo_settings)
    for text in [*HOSTILE, "0" * 64, "no-such-customer", "x" * 65, "' or customer_key like '%"]:
        api = client.get(f"/api/recommendations/{text}")
        assert api.status_code in (400, 404, 422), (text, api.status_code, api.text[:200])
        page = client.get("/recommendations", params={"customer": text})
        assert page.status_code in (400, 404, 422), (text, page.status_code)
        assert "<script>alert(1)</script>" not in page.text
        assert "Customer key <code>" not in page.text  # no customer's list leaked by an injected OR
        if page.status_code == 404:  # a well-formed key without recommendations
            assert text == "0" * 64 and "No recommendations for customer" in page.text
        elif page.status_code == 400:
            assert "Not a customer key" in page.text and "Most recommended items" in page.text
        else:
            assert len(text) > 64
    for threshold in ("0.5 or 1=1", "2", "-1", "nan"):
        assert client.get("/api/propensity", params={"threshold": threshold}).status_code == 422
    assert warehouse_fingerprint(demo_settings) == before
    assert client.get("/recommendations", params={"customer": ""}).status_code == 200  # an empty form: no lookup


def test_pages_explain_missing_scores(settings: Settings) -> None:
    settings.duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_file)) as con:
        con.execute("create table t as select 1 as a")
    publish_snapshot(settings)
    client = TestClient(create_app(settings))
    assert client.get("/api/propensity").json() == {"summary": None}
    assert "No purchase propensity scores yet" in client.get("/propensity").text
    assert client.get("/api/recommendations").json() == {"summary": None, "top_items": []}
    assert "No recommendations yet" in client.get("/recommendations").text
    missing = client.get("/recommendations", params={"customer": "a" * 64})
    assert missing.status_code == 404 and "No recommendations for customer" in missing.text
    assert client.get(f"/api/recommendations/{'a' * 64}").status_code == 404
    raw = client.get("/recommendations", params={"customer": "12345"})
    assert raw.status_code == 400 and "Not a customer key" in raw.text
    assert client.get("/api/recommendations/12345").status_code == 400
