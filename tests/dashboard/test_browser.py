"""The dashboard and the offline report in the system Chromium: charts render, filters change them, no errors."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from trendcast.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists() or shutil.which("chromedriver") is None:
        skip_or_fail("system Chromium missing: apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


class Page:
    """A page that records console errors, page errors and any request leaving the allowed origin."""

    def __init__(self, browser: object, allowed_prefix: str) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.errors: list[str] = []
        self.blocked: list[str] = []

        def route(route: object) -> None:
            url = route.request.url
            if url.startswith(allowed_prefix) or url.startswith("data:"):
                route.continue_()
            else:
                self.blocked.append(url)
                route.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def traces(self, chart_id: str) -> tuple[int, int]:
        """(traces in the chart's data, trace groups plotly.js drew) - every trace with points is drawn."""
        data, with_points, drawn = self.page.evaluate(
            """id => { const gd = document.getElementById(id);
                const data = gd.data || [];
                return [data.length, data.filter(t => (t.x || []).length > 0).length,
                        gd.querySelectorAll('.cartesianlayer g.trace').length]; }""",
            chart_id,
        )
        assert drawn == with_points, f"{chart_id}: {with_points} traces with points but {drawn} drawn"
        return data, drawn

    def check(self) -> None:
        assert self.errors == [], self.errors
        assert self.blocked == [], f"requests outside the app / file: {self.blocked}"

    def close(self) -> None:
        self.context.close()


def _wait_for_charts(page: Page, count: int) -> None:
    page.page.wait_for_function(
        "n => document.querySelectorAll('.chart.js-plotly-plot .main-svg').length >= n", arg=count, timeout=30_000
    )


def test_every_page_renders_its_charts(browser, live_server: str, artifacts_dir: Path) -> None:
    import httpx

    expected = {"/": {"leaderboard-chart": 1}, "/anomalies": {"anomaly-chart": 2}}  # shop units + anomalous days
    trends = httpx.get(f"{live_server}/api/trends", params={"level": "item", "direction": "rising"}).json()
    falling = httpx.get(f"{live_server}/api/trends", params={"level": "item", "direction": "falling"}).json()
    if trends or falling:
        expected["/trends"] = {"trend-chart-item": 2}
    for path, charts in expected.items():
        page = Page(browser, live_server.rsplit("/trendcast", 1)[0])
        try:
            page.page.goto(f"{live_server}{path}")
            _wait_for_charts(page, len(charts))
            for chart_id, n in charts.items():
                assert page.traces(chart_id)[0] == n, (path, chart_id)
            if path == "/trends":
                rows = len(trends) + len(falling)
                assert page.page.locator("#trends-item svg.sparkline").count() == rows
            page.page.screenshot(path=str(artifacts_dir / f"page{path.replace('/', '_') or '_'}.png"), full_page=True)
            page.check()
        finally:
            page.close()


def test_explorer_changes_chart_with_the_item_filter(
    browser, live_server: str, demo_settings: Settings, artifacts_dir: Path
) -> None:
    import httpx

    top = httpx.get(f"{live_server}/api/items", params={"limit": 200}).json()
    page = Page(browser, live_server.rsplit("/trendcast", 1)[0])
    try:
        page.page.goto(f"{live_server}/explorer")
        _wait_for_charts(page, 2)
        first = page.page.evaluate("document.getElementById('item-chart').layout.title.text")
        first_id = first.split(" - ")[0]
        first_data = httpx.get(f"{live_server}/api/items/{first_id}").json()
        assert first_data["forecast_date"] and len(first_data["backtest_cutoffs"]) == 3
        assert page.traces("item-chart") == (first_data["n_traces"], first_data["n_traces"]) == (9, 9)
        assert page.traces("category-chart") == (2, 2)
        countries = httpx.get(f"{live_server}/api/countries").json()
        assert page.page.locator("#country-select").input_value() == countries[0]["country"]  # most units first
        assert page.traces("country-chart") == (1, 1)
        assert "not available" not in page.page.content()
        page.page.screenshot(path=str(artifacts_dir / "explorer_first_item.png"), full_page=True)

        other = next(row["item_id"] for row in top if row["item_id"] != first_id)
        other_data = httpx.get(f"{live_server}/api/items/{other}").json()
        search = page.page.locator("#item-search")
        search.fill(other)
        search.dispatch_event("change")
        page.page.wait_for_function(
            "id => document.getElementById('item-chart').dataset.item === id", arg=other, timeout=15_000
        )
        title = page.page.evaluate("document.getElementById('item-chart').layout.title.text")
        assert title.startswith(f"{other} - ") and title != first
        assert page.traces("item-chart") == (other_data["n_traces"], other_data["n_traces"])
        actual_sum = page.page.evaluate(
            "document.getElementById('item-chart').data.find(t => t.name === 'actual units')"
            ".y.reduce((a, b) => a + b, 0)"
        )
        expected_sum = sum(next(t for t in other_data["figure"]["data"] if t["name"] == "actual units")["y"])
        assert actual_sum == pytest.approx(expected_sum)
        assert page.page.url.endswith(f"?item={other}")

        categories = httpx.get(f"{live_server}/api/categories").json()
        category = categories[-1]["category"]
        page.page.select_option("#category-select", category)
        page.page.wait_for_function(
            "c => document.getElementById('category-chart').dataset.category === c", arg=category, timeout=15_000
        )
        assert (
            page.page.evaluate("document.getElementById('category-chart').layout.title.text") == f"Category {category}"
        )

        country = countries[2]["country"]
        country_data = httpx.get(f"{live_server}/api/countries/{country}").json()
        page.page.select_option("#country-select", country)
        page.page.wait_for_function(
            "c => document.getElementById('country-chart').dataset.country === c", arg=country, timeout=15_000
        )
        assert page.page.evaluate("document.getElementById('country-chart').layout.title.text") == f"Country {country}"
        assert page.traces("country-chart") == (country_data["n_traces"], country_data["n_traces"]) == (1, 1)
        drawn_sum = page.page.evaluate("document.getElementById('country-chart').data[0].y.reduce((a, b) => a + b, 0)")
        assert drawn_sum == pytest.approx(countries[2]["units_sold"])
        rows = page.page.locator("#country-items tbody tr")
        assert rows.count() == len(country_data["top_items"]) > 0
        assert rows.first.locator("td").first.inner_text() == country_data["top_items"][0]["item_id"]
        assert page.page.locator("#country-items-title").inner_text() == f"Top items in {country} (last 28 days)"
        page.page.screenshot(path=str(artifacts_dir / "explorer_changed_item.png"), full_page=True)

        search.fill("NO-SUCH-ITEM")
        search.dispatch_event("change")
        page.page.wait_for_function("document.getElementById('item-status').className === 'error'", timeout=15_000)
        assert "Unknown item" in page.page.locator("#item-status").inner_text()
        page.errors = [e for e in page.errors if "404" not in e]  # the fetch of an unknown item logs its 404
        page.check()
    finally:
        page.close()


def test_report_opens_offline_with_charts(
    browser, demo_settings: Settings, tmp_path: Path, artifacts_dir: Path
) -> None:
    from trendcast.report import write_report

    path = write_report(demo_settings, tmp_path / "report.html", n_items=5)
    page = Page(browser, "file://")
    try:
        page.page.goto(path.as_uri())
        _wait_for_charts(page, 4)
        assert page.page.evaluate("typeof Plotly") == "object"
        assert page.traces("leaderboard-chart") == (1, 1)
        assert page.traces("anomaly-chart")[0] == 2
        n_first = page.traces("item-chart")[0]
        first = page.page.evaluate("document.getElementById('item-chart').layout.title.text")
        page.page.select_option("#report-item-select", "1")
        page.page.wait_for_function(
            "t => document.getElementById('item-chart').layout.title.text !== t", arg=first, timeout=15_000
        )
        assert page.traces("item-chart")[0] >= 1 and n_first >= 1
        page.page.screenshot(path=str(artifacts_dir / "report.png"), full_page=True)
        page.check()
    finally:
        page.close()


def test_customer_pages_render_propensity_and_recommendations(
    browser, live_server: str, demo_warehouse: tuple[Settings, dict], artifacts_dir: Path
) -> None:
    import httpx

    planted = demo_warehouse[1]["scores"]
    page = Page(browser, live_server.rsplit("/trendcast", 1)[0])
    try:
        page.page.goto(f"{live_server}/propensity")
        _wait_for_charts(page, 2)
        assert page.traces("propensity-chart") == (1, 1)
        assert page.traces("propensity-segment-chart") == (1, 1)
        drawn = page.page.evaluate("document.getElementById('propensity-chart').data[0].y.reduce((a, b) => a + b, 0)")
        assert drawn == planted["customers"]
        assert page.page.locator("#above-threshold").inner_text() == f"{planted['above_half']:,}"
        assert page.page.locator("#propensity-segments tbody tr").count() == len(planted["mean_by_segment"])
        page.page.screenshot(path=str(artifacts_dir / "propensity.png"), full_page=True)

        # from the most likely buyer to its recommendations, then a lookup through the form
        page.page.locator("#propensity-top a").first.click()
        page.page.wait_for_url("**/recommendations?customer=*")
        _wait_for_charts(page, 1)
        assert page.page.locator("#customer-recs tbody tr").count() == 10
        top = httpx.get(f"{live_server}/api/recommendations").json()["top_items"]
        assert page.traces("recommended-chart") == (1, 1)
        assert page.page.locator("#recommended-items tbody tr").count() == len(top) == 20
        page.page.fill("#customer-input", planted["example_customer"])
        page.page.click("#lookup button")
        page.page.wait_for_url(f"**/recommendations?customer={planted['example_customer']}")
        _wait_for_charts(page, 1)
        cells = page.page.locator("#customer-recs tbody tr td:nth-child(2)").all_inner_texts()
        assert cells == planted["example_items"]
        page.page.screenshot(path=str(artifacts_dir / "recommendations.png"), full_page=True)
        page.check()

        page.page.goto(f"{live_server}/recommendations?customer=1%27%20or%20%271%27%3D%271")
        assert "Not a customer key" in page.page.locator("#customer-status").inner_text()
        page.page.screenshot(path=str(artifacts_dir / "recommendations_unknown.png"), full_page=True)
        page.errors = [e for e in page.errors if "400" not in e]  # the page itself answers 400
        page.check()
    finally:
        page.close()
