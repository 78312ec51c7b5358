"""The dashboard in a real headless Chromium (Debian's `chromium`), driven over the DevTools protocol.

It loads with no console error and no request leaving the machine, shows the numbers the models hold,
and its filters change them. Screenshots land in the test's tmp_path. Under CI=true a missing Chromium
fails the tests instead of skipping them.
"""

import base64
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
import websocket

from destinations import Target
from destinations.models import MODEL_NAMES, refresh
from pipelines import dashboard
from pipelines.cli import main
from pipelines.sync import make_pipeline
from sources.simulator import Simulator, World

from .conftest import SMALL_WORLD, Warehouse
from .test_models import RESOURCES

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=1400,1800",
)


def _chromium_binary() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("Chromium is not installed (apt-get install chromium), and CI=true forbids skipping")
    pytest.skip("Chromium is not installed (apt-get install chromium)")


class Page:
    """One browser tab over the Chrome DevTools Protocol: commands, and the events they raise."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.counter = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.counter += 1
        self.ws.send(json.dumps({"id": self.counter, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.counter:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"never true: {expression}")

    def open(self, url: str) -> None:
        self.evaluate("window.__left = true")  # gone once the new document replaces this one
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_for(
            "!window.__left && document.readyState === 'complete' && document.body.dataset.rendered === '1'"
        )

    def errors(self) -> list[str]:
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "assert",
                "warning",
            ):
                found.append(json.dumps(params.get("args"))[:500])
            elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
                found.append(params["entry"].get("text", "")[:500])
        return found

    def requested_urls(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    binary = _chromium_binary()
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not start (exit code {process.poll()})")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        tabs = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = Page(next(tab for tab in tabs if tab["type"] == "page")["webSocketDebuggerUrl"])
        yield page
        page.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A DuckDB warehouse of a small world with its models built (and no connection left open)."""
    folder = tmp_path_factory.mktemp("dashboard")
    target = Target(duckdb_path=str(folder / "warehouse.duckdb"))
    with Simulator(World(seed=11, sizes=SMALL_WORLD)) as simulator:
        Warehouse(target, str(folder / "pipelines"), simulator).sync(resources=RESOURCES)
    assert refresh(make_pipeline(target, str(folder / "pipelines"))).built == list(MODEL_NAMES)
    yield target


@pytest.fixture(scope="module")
def server(loaded: Target) -> Iterator[str]:
    httpd = dashboard.make_server(loaded, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _query(target: Target, sql: str) -> list[tuple]:
    with duckdb.connect(target.duckdb_path, read_only=True) as connection:
        return connection.execute(sql.replace("{ds}", target.dataset)).fetchall()


def _kpi(page: Page, key: str) -> str:
    return page.evaluate(f"document.querySelector('[data-kpi=\"{key}\"] .value').textContent")


def _column_total(page: Page, section: str, column: str) -> int:
    """The sum of a table column's cells as the page shows them (`1,234`)."""
    return page.evaluate(
        f"Array.from(document.querySelectorAll('{section} [data-col={column}]'))"
        ".reduce((total, td) => total + Number(td.textContent.replace(/,/g, '')), 0)"
    )


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}%"


def _set(page: Page, element_id: str, value: str) -> None:
    """Change a filter as a person does: set the control's value and fire its change event."""
    before = int(page.evaluate("document.body.dataset.rendered"))
    page.evaluate(
        f"(() => {{ const el = document.getElementById({json.dumps(element_id)});"
        f" el.value = {json.dumps(value)}; el.dispatchEvent(new Event('change', {{ bubbles: true }})); }})()"
    )
    page.wait_for(f"+document.body.dataset.rendered > {before}")


def test_the_page_shows_the_models_numbers_and_its_filters_change_them(browser, server, loaded, tmp_path):
    sent, contacted, replies = _query(
        loaded, "select sum(sent), sum(contacted), sum(unique_replies) from {ds}.campaign_daily"
    )[0]
    (received,) = _query(loaded, "select sum(received) from {ds}.reply_activity")[0]
    campaigns = dict(_query(loaded, "select campaign_id, sent from {ds}.campaign_performance"))
    accounts = _query(
        loaded, "select count(*), count(*) filter (where health <> 'ok') from {ds}.account_health"
    )[0]
    (leads,) = _query(loaded, "select sum(leads) from {ds}.lead_funnel")[0]

    browser.open(server + "/")
    assert browser.errors() == []
    assert _kpi(browser, "sent") == f"{sent:,}"
    assert _kpi(browser, "reply_rate") == _pct(replies, contacted)
    assert _kpi(browser, "received") == f"{received:,}"
    assert _kpi(browser, "accounts_at_risk") == str(accounts[1])
    shown = browser.evaluate(
        "Array.from(document.querySelectorAll('#campaigns tr[data-campaign]'))"
        ".map(tr => [tr.dataset.campaign, tr.querySelector('[data-col=sent]').textContent])"
    )
    assert dict(shown) == {campaign: f"{value:,}" for campaign, value in campaigns.items()}
    assert browser.evaluate("document.querySelectorAll('#accounts tr[data-account]').length") == accounts[0]
    assert browser.evaluate("document.querySelector('#funnel [data-total]').dataset.total") == str(leads)
    assert browser.evaluate("document.querySelectorAll('#daily-chart canvas').length") >= 1
    transitions, interested = _query(
        loaded, "select count(*), sum(interested) from {ds}.lead_status_transitions"
    )[0]
    assert (
        browser.evaluate("document.querySelectorAll('#transitions tr[data-transitions]').length")
        == transitions
    )
    assert _column_total(browser, "#transitions", "interested") == interested
    trend_accounts, fell = _query(
        loaded,
        "select count(distinct email), count(*) filter (where warmup_score_change_7d < 0 "
        "and date = (select max(date) from {ds}.account_health_trend)) from {ds}.account_health_trend",
    )[0]
    assert browser.evaluate("document.querySelectorAll('#trend tr[data-trend]').length") == trend_accounts
    assert browser.evaluate("document.querySelectorAll('#trend .fell').length") == fell
    assert browser.evaluate("document.querySelectorAll('#trend-chart canvas').length") >= 1
    assert browser.evaluate("document.querySelectorAll('#campaigns .spark-cell canvas').length") == len(
        campaigns
    )
    browser.screenshot(tmp_path / "dashboard.png")

    # one campaign: the tiles, the table and the funnel narrow to it
    campaign = max(campaigns, key=campaigns.get)
    (c_sent, c_contacted, c_replies), last_day = (
        _query(
            loaded,
            "select sum(sent), sum(contacted), sum(unique_replies) from {ds}.campaign_daily "
            f"where campaign_id = '{campaign}'",
        )[0],
        _query(loaded, "select max(date) from {ds}.campaign_daily")[0][0],
    )
    _set(browser, "campaign", campaign)
    assert _kpi(browser, "sent") == f"{c_sent:,}" != f"{sent:,}"
    assert _kpi(browser, "reply_rate") == _pct(c_replies, c_contacted)
    assert browser.evaluate("document.querySelectorAll('#campaigns tr[data-campaign]').length") == 1
    (c_leads,) = _query(
        loaded, f"select sum(leads) from {{ds}}.lead_funnel where campaign_id = '{campaign}'"
    )[0]
    assert browser.evaluate("document.querySelector('#funnel [data-total]').dataset.total") == str(c_leads)
    (c_interested,) = _query(
        loaded, f"select sum(interested) from {{ds}}.lead_status_transitions where campaign_id = '{campaign}'"
    )[0]
    assert _column_total(browser, "#transitions", "interested") == c_interested
    assert campaign in browser.evaluate("location.hash")

    # and the last 7 days of it
    first_day = last_day - timedelta(days=6)
    (week_sent,) = _query(
        loaded,
        f"select coalesce(sum(sent), 0) from {{ds}}.campaign_daily where campaign_id = '{campaign}' "
        f"and date between '{first_day}' and '{last_day}'",
    )[0]
    _set(browser, "from", first_day.isoformat())
    assert _kpi(browser, "sent") == f"{week_sent:,}"
    assert (
        browser.evaluate("document.querySelector('[data-col=sent_in_range]').textContent") == f"{week_sent:,}"
    )
    browser.screenshot(tmp_path / "dashboard-filtered.png")
    assert browser.errors() == []
    assert all(url.startswith((server, "data:")) for url in browser.requested_urls()), (
        browser.requested_urls()
    )
    assert (tmp_path / "dashboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_static_report_is_one_self_contained_file(browser, loaded, tmp_path, capsys):
    out = tmp_path / "report.html"
    code = main(
        ["dashboard", "--duckdb-path", loaded.duckdb_path, "--dataset", loaded.dataset, "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    html = out.read_text(encoding="utf-8")
    assert "<script src" not in html and '<link rel="stylesheet"' not in html
    assert out.stat().st_size < 400_000  # the library, the page and a small world's models
    (sent,) = _query(loaded, "select sum(sent) from {ds}.campaign_daily")[0]
    browser.open(out.as_uri())
    assert browser.errors() == []
    assert _kpi(browser, "sent") == f"{sent:,}"
    assert all(url.startswith(("file:", "data:")) for url in browser.requested_urls()), (
        browser.requested_urls()
    )
    browser.screenshot(tmp_path / "report.png")


def test_the_server_answers_data_and_404(server):
    data = httpx.get(server + "/data.json", timeout=10).json()
    assert set(data["models"]) == set(MODEL_NAMES) and data["missing"] == []
    assert httpx.get(server + "/nope", timeout=10).status_code == 404


def test_a_warehouse_without_models_still_renders_and_a_missing_file_is_a_config_error(browser, tmp_path):
    missing = main(
        ["dashboard", "--duckdb-path", str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "x.html")]
    )
    assert missing == 2
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).execute("create schema instantly").close()
    out = tmp_path / "empty.html"
    assert main(["dashboard", "--duckdb-path", str(empty), "--out", str(out)]) == 0
    browser.open(out.as_uri())
    assert browser.errors() == []
    assert "campaign_performance" in browser.evaluate("document.getElementById('campaigns').textContent")
    assert _kpi(browser, "sent") == "–"


def test_the_dashboard_reads_the_same_models_from_postgres(postgres_warehouse, loaded):
    postgres_warehouse.sync(resources=RESOURCES)
    refresh(make_pipeline(postgres_warehouse.target, postgres_warehouse.pipelines_dir))
    on_postgres = dashboard.read_models(postgres_warehouse.target)
    on_duckdb = dashboard.read_models(loaded)
    assert set(on_postgres) == set(MODEL_NAMES)
    for name in MODEL_NAMES:  # the same world synced into each: the page gets the same data from both
        assert on_postgres[name] == on_duckdb[name], name
    assert date.fromisoformat(on_postgres["account_health"]["dicts"]["window_end"][0])
