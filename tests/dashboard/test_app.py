"""The dashboard app on a warehouse the pipeline really wrote: values, status codes, read-only behaviour."""

from __future__ import annotations

import time

import duckdb
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.conftest import duckdb_file_held
from tests.dashboard.conftest import read, warehouse_fingerprint
from trendcast.dashboard import create_app
from trendcast.settings import Settings, get_settings

pytestmark = pytest.mark.slow

HOSTILE = [
    "'; drop table marts.ml_item_text; --",
    "1' or '1'='1",
    "%' or 1=1 --",
    "x') ; delete from forecasts.item_daily_forecast; --",
    "日本語の商品🛒",
    "<script>alert(1)</script>",
    "../../../etc/passwd",
    "$(rm -rf /)",
    "Robert'); DROP TABLE ops.dq_runs;--",
    "ÿ" * 64,
]


@pytest.fixture(scope="module")
def forecast_item(demo_settings: Settings) -> str:
    """The item with the largest latest forecast (it has a forecast and backtests)."""
    return read(
        demo_settings,
        "select item_id from forecasts.item_daily_forecast group by 1 order by sum(y_hat) desc, 1 limit 1",
    )["item_id"].item()


def test_overview_shows_runs_leaderboard_and_freshness(client: TestClient, demo_warehouse) -> None:
    settings, build = demo_warehouse
    data = client.get("/api/overview").json()
    train = build["train"]
    board = {row["model"]: row for row in data["leaderboard"]}
    assert set(board) == {row["model"] for row in train["leaderboard"]}
    for row in train["leaderboard"]:
        assert board[row["model"]]["wrmsse"] == pytest.approx(row["wrmsse"])
        assert board[row["model"]]["bias"] == pytest.approx(row["bias"])
    champions = [m for m, row in board.items() if row["is_champion"]]
    assert champions == [train["champion"]]
    assert board[train["champion"]]["mlflow_run_id"] and board[train["champion"]]["model_version"]
    assert [row["rank"] for row in data["leaderboard"]] == list(range(1, len(board) + 1))

    runs = {run["step"]: run for run in data["runs"]}
    steps = {"data-quality gate", "training", "forecast", "trends"}
    if read(settings, "select count(*) as n from ops.sales_anomalies")["n"].item():
        steps.add("anomalies")  # a detection that found nothing leaves no row to date it by
    assert set(runs) == steps
    assert runs["data-quality gate"]["status"] == "success"
    assert data["dq_results"] and all(r["suite"] for r in data["dq_results"])

    fresh = {row["table"]: row for row in data["freshness"]}
    n_forecasts = read(settings, "select count(*) as n from forecasts.item_daily_forecast")["n"].item()
    assert fresh["forecasts.item_daily_forecast"]["rows"] == n_forecasts > 0
    assert all(row["rows"] is not None for row in fresh.values()), fresh  # every output table exists
    assert fresh["forecasts.item_backtest_forecast"]["rows"] > 0 and fresh["ops.model_leaderboard"]["rows"] > 0

    page = client.get("/")
    assert page.status_code == 200
    assert "Model leaderboard" in page.text and train["champion"] in page.text
    assert '<script src="/static/plotly.min.js">' in page.text  # served by the app itself, no CDN


def test_item_endpoint_returns_actuals_forecast_and_backtests(
    client: TestClient, demo_settings: Settings, forecast_item: str
) -> None:
    data = client.get(f"/api/items/{forecast_item}").json()
    traces = {trace["name"]: trace for trace in data["figure"]["data"]}
    assert len(data["backtest_cutoffs"]) == 3  # the three backtest folds of `train`
    assert data["n_traces"] == len(data["figure"]["data"]) == 6 + 3

    actual = read(demo_settings, "select units_sold from marts.ml_item_daily_sales where item_id = :i", i=forecast_item)
    assert len(traces["actual units"]["x"]) == len(actual)
    assert sum(traces["actual units"]["y"]) == pytest.approx(actual["units_sold"].sum())

    expected = read(
        demo_settings,
        "select y_hat, y_hat_lo_80, y_hat_hi_95 from forecasts.item_daily_forecast where item_id = :i "
        "order by target_date",
        i=forecast_item,
    )
    forecast_trace = next(t for name, t in traces.items() if name.startswith("forecast ("))
    assert forecast_trace["y"] == pytest.approx(expected["y_hat"].tolist())
    assert traces["80 % interval lower"]["y"] == pytest.approx(expected["y_hat_lo_80"].tolist())
    assert traces["95 % interval"]["y"] == pytest.approx(expected["y_hat_hi_95"].tolist())
    assert data["forecast_units"] == pytest.approx(expected["y_hat"].sum())

    backtests = read(
        demo_settings,
        "select cutoff, count(*) as n from forecasts.item_backtest_forecast where item_id = :i and model = :m "
        "group by 1 order by 1",
        i=forecast_item,
        m=data["backtest_model"],
    )
    for cutoff, n in zip(backtests["cutoff"], backtests["n"], strict=True):
        trace = traces[f"backtest {pd.Timestamp(cutoff):%Y-%m-%d} ({data['backtest_model']})"]
        assert len(trace["y"]) == n == 28


def test_search_categories_and_explorer_page(client: TestClient, demo_settings: Settings, forecast_item: str) -> None:
    info = read(
        demo_settings, "select description, category from marts.ml_item_text where item_id = :i", i=forecast_item
    )
    word = info["description"].item().split()[1].upper()
    found = client.get("/api/items", params={"q": word, "limit": 200}).json()
    assert forecast_item in [row["item_id"] for row in found]
    assert all(word.lower() in (r["description"] + r["item_id"]).lower() for r in found)

    category = info["category"].item()
    in_category = client.get("/api/items", params={"category": category, "limit": 200}).json()
    n_items = read(demo_settings, "select count(*) as n from marts.ml_item_text where category = :c", c=category)
    assert len(in_category) == min(200, n_items["n"].item()) and {r["category"] for r in in_category} == {category}

    data = client.get(f"/api/categories/{category}").json()
    assert data["n_traces"] == 2
    page = client.get("/explorer", params={"item": forecast_item})
    assert page.status_code == 200 and f"{forecast_item} - " in page.text


def test_country_endpoints_agree_with_the_cleaned_lines(client: TestClient, demo_settings: Settings) -> None:
    listed = client.get("/api/countries").json()
    expected = read(
        demo_settings,
        "select coalesce(country, 'Unspecified') as country, sum(quantity) as units, count(distinct invoice_id) as n "
        "from intermediate.int_transactions_cleaned where is_sale group by 1 order by 2 desc, 1",
    )
    assert len(listed) == len(expected) >= 5  # the generated shop sells to many countries
    assert [row["country"] for row in listed] == expected["country"].tolist()  # most units first
    assert [row["units_sold"] for row in listed] == expected["units"].tolist()
    assert [row["n_orders"] for row in listed] == expected["n"].tolist()
    # per day, units over all countries equal units over all items (counted the same way)
    by_day = read(
        demo_settings,
        "select c.sale_date, c.units, i.units as item_units from "
        "(select sale_date, sum(units_sold) as units from marts.ml_country_daily_sales group by 1) c "
        "join (select sale_date, sum(units_sold) as units from marts.ml_item_daily_sales group by 1) i "
        "on c.sale_date = i.sale_date",
    )
    assert len(by_day) > 100 and (by_day["units"] == by_day["item_units"]).all()

    country = listed[1]["country"]  # not the UK: a small country with gaps to zero-fill
    data = client.get(f"/api/countries/{country}").json()
    assert data["country"] == country and data["n_traces"] == len(data["figure"]["data"]) == 1
    trace = data["figure"]["data"][0]
    days = read(
        demo_settings,
        "select min(invoice_date) as first_day, (select max(invoice_date) from intermediate.int_transactions_cleaned "
        "where is_sale) as last_day from intermediate.int_transactions_cleaned "
        "where is_sale and coalesce(country, 'Unspecified') = :c",
        c=country,
    )
    n_days = (pd.Timestamp(days["last_day"].item()) - pd.Timestamp(days["first_day"].item())).days + 1
    assert len(trace["x"]) == data["history_days"] == n_days  # zero-filled calendar
    assert sum(trace["y"]) == pytest.approx(listed[1]["units_sold"])
    assert trace["x"][0] == f"{pd.Timestamp(days['first_day'].item()):%Y-%m-%d}"
    assert data["figure"]["layout"]["xaxis"]["rangeslider"]["visible"]

    top = read(
        demo_settings,
        "select item_id, sum(quantity) as units from intermediate.int_transactions_cleaned "
        "where is_sale and coalesce(country, 'Unspecified') = :c and invoice_date > "
        "(select max(invoice_date) from intermediate.int_transactions_cleaned where is_sale) - 28 "
        "group by 1 order by 2 desc, 1 limit 5",
        c=country,
    )
    got = client.get(f"/api/countries/{country}", params={"limit": 5}).json()["top_items"]
    assert len(top) > 0
    assert [r["item_id"] for r in got] == top["item_id"].tolist()
    assert [r["recent_units"] for r in got] == top["units"].tolist()

    page = client.get("/explorer", params={"country": country})
    assert page.status_code == 200
    assert f'<option value="{country}" selected>' in page.text and "not available" not in page.text
    assert 'id="country-chart"' in page.text and top["item_id"].iat[0] in page.text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/items/NO-SUCH-ITEM", 404),
        ("/api/countries/Atlantis", 404),
        ("/api/countries/france", 404),  # names are exact
        ("/explorer?country=Atlantis", 404),
        ("/api/countries/" + "x" * 65, 422),
        ("/api/countries/France?limit=0", 422),
        ("/explorer?country=" + "x" * 65, 422),
        ("/api/categories/no-such-category", 404),
        ("/explorer?item=NO-SUCH-ITEM", 404),
        ("/api/items/" + "9" * 65, 422),
        ("/api/items?q=" + "a" * 101, 422),
        ("/api/items?limit=0", 422),
        ("/api/items?limit=201", 422),
        ("/api/items?limit=ten", 422),
        ("/api/trends?level=shop", 422),
        ("/api/trends?direction=sideways", 422),
        ("/api/anomalies?limit=-1", 422),
        ("/explorer?item=" + "x" * 65, 422),
    ],
)
def test_bad_parameters_give_422_and_unknown_ids_404(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status, response.text


def test_hostile_parameters_change_nothing(client: TestClient, demo_settings: Settings) -> None:
    before = warehouse_fingerprint(demo_settings)
    statuses = []
    for text in [*HOSTILE, "x" * 5_000]:
        requests = [
            (f"/api/items/{text}", {}),
            ("/api/items", {"q": text}),
            ("/api/items", {"category": text}),
            (f"/api/categories/{text}", {}),
            (f"/api/countries/{text}", {}),
            ("/api/countries/France", {"limit": text}),
            ("/explorer", {"country": text}),
            ("/explorer", {"item": text}),
            ("/api/trends", {"level": text}),
            ("/api/anomalies", {"limit": text}),
        ]
        for path, params in requests:
            response = client.get(path, params=params)
            statuses.append(response.status_code)
            assert response.status_code in (200, 404, 422), (path, params, response.status_code, response.text[:200])
            if response.headers["content-type"].startswith("text/html"):
                assert "<script>alert(1)</script>" not in response.text  # echoed text is escaped in pages
            if path == "/api/items" and response.status_code == 200:
                assert response.json() == []  # no payload matches an item: nothing leaked by an injected OR
    assert statuses.count(404) >= len(HOSTILE) and statuses.count(422) >= len(HOSTILE)
    assert warehouse_fingerprint(demo_settings) == before
    assert client.get("/api/items", params={"limit": 1}).json()  # and the app still answers


def test_openapi_documents_the_json_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/api/overview",
        "/api/leaderboard",
        "/api/items",
        "/api/items/{item_id}",
        "/api/categories",
        "/api/categories/{category}",
        "/api/countries",
        "/api/countries/{country}",
        "/api/trends",
        "/api/anomalies",
        "/api/segments",
        "/api/propensity",
        "/api/recommendations",
        "/api/recommendations/{customer}",
    }
    assert set(paths) == expected
    item = paths["/api/items/{item_id}"]["get"]
    assert {"404", "422"} <= set(item["responses"])
    assert item["parameters"][0]["schema"]["maxLength"] == 64
    country = paths["/api/countries/{country}"]["get"]
    assert {"404", "422"} <= set(country["responses"])
    params = {p["name"]: p for p in country["parameters"]}
    assert params["country"]["in"] == "path" and params["country"]["schema"]["maxLength"] == 64
    assert params["limit"]["schema"]["maximum"] == 200


def test_a_writer_holding_the_warehouse_does_not_stop_the_dashboard(demo_settings: Settings) -> None:
    with duckdb_file_held(demo_settings.duckdb_file):
        client = TestClient(create_app(demo_settings))
        started = time.perf_counter()
        response = client.get("/api/overview")
        assert response.status_code == 200 and response.json()["leaderboard"]
        assert time.perf_counter() - started < 5
        assert client.get("/").status_code == 200


def test_no_snapshot_yet_answers_503(settings: Settings) -> None:
    settings.duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(settings.duckdb_file)).close()  # a warehouse from before snapshots: none published yet
    client = TestClient(create_app(settings))
    response = client.get("/api/overview")
    assert response.status_code == 503 and response.headers["retry-after"] == "30"
    assert "no published snapshot" in response.json()["detail"]
    page = client.get("/")
    assert page.status_code == 503 and "the next pipeline step publishes one" in page.text


def test_report_is_one_self_contained_file(demo_settings: Settings, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from trendcast.cli import app as cli

    monkeypatch.setenv("TRENDCAST_STATE_DIR", str(demo_settings.state_dir))
    get_settings.cache_clear()
    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(cli, ["report", "--out", str(out), "--items", "5"])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output.replace("\n", "")
    html = out.read_text()
    # no external script or stylesheet (plotly.js itself mentions cdn.plot.ly as the geo-map default, never loaded)
    assert "<script src" not in html and 'src="http' not in html and "<link" not in html
    assert html.count('<script type="application/json" id="item-fig-') == 5
    top = read(
        demo_settings,
        "select item_id from marts.ml_item_daily_sales "
        "where sale_date > (select max(sale_date) from marts.ml_item_daily_sales) - 28 "
        "group by 1 order by sum(units_sold) desc, item_id limit 5",
    )["item_id"]
    assert "Model leaderboard" in html and all(f">{item} - " in html for item in top)  # the top sellers' charts
    assert len(html) > 4_000_000  # plotly.js is inlined
    # the customer pages' overviews are in the report; the per-customer lookup needs the live dashboard
    above = read(
        demo_settings,
        "select count(*) as n from scores.customer_purchase_propensity where purchase_probability > 0.5 "
        "and scoring_date = (select max(scoring_date) from scores.customer_purchase_propensity)",
    )["n"].item()
    assert f'<strong id="above-threshold">{above:,}</strong>' in html
    assert 'id="recommended-items"' in html and 'id="customer-input"' not in html
