"""The console of `docflow serve` in a real browser, Debian's Chromium driven by Playwright,
as a person uses it: signed in by the URL serve printed, it watches an upload go from
pending to succeeded, cancels and retries a batch, and redrives a dead letter, all without
a reload. Its screenshots are kept in test-results/console/."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from serving import REPO, presign, scheduled_batch, send, serving

pytestmark = pytest.mark.local_cloud

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = REPO / "test-results" / "console"
LIVE_MS = 3000  # the console promises 2 s; a second more for a busy machine
TOKEN = "browser-console-token-0123"
REPORT = REPO / "examples" / "annual-report.pdf"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("browser"), [TOKEN]) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A page of a browser of its own: no cookie from another test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    yield context.new_page()
    context.close()


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def row(page: Page, table: str, key: str, value: str):
    return page.locator(f"#{table}-rows tr[data-{key}='{value}']")


def test_a_browser_signs_in_watches_an_upload_cancels_retries_and_redrives(server, page):
    page.goto(server.console)  # the URL docflow serve printed
    expect(page.locator("#documents-title")).to_be_visible()
    page.evaluate("window.stayed = true")  # gone if the page reloads
    screenshot(page, "1-signed-in")

    created = presign(server, REPORT.name, "application/pdf")  # the record exists, the file not yet
    document = row(page, "document", "document-id", created["document_id"])
    expect(document.locator("td.status")).to_have_text("pending", timeout=LIVE_MS)
    screenshot(page, "2-pending")
    assert send(created, REPORT.name, REPORT.read_bytes(), "application/pdf").status_code == 204
    expect(document.locator("td.status")).to_have_text("succeeded", timeout=60_000)
    locked = REPO / "examples" / "locked.pdf"
    assert send(presign(server, locked.name, "application/pdf"), locked.name, locked.read_bytes(), "application/pdf").ok
    expect(page.locator("#failure-rows")).to_contain_text("pdf_encrypted", timeout=30_000)
    page.locator("#status-filter button[data-status='failed']").click()
    expect(document).to_have_count(0, timeout=LIVE_MS)
    expect(page.locator("#document-rows")).to_contain_text("locked.pdf")
    page.locator("#status-filter button[data-status='succeeded']").click()
    expect(document).to_have_count(1, timeout=LIVE_MS)
    page.fill("#search", "no such name")
    expect(document).to_have_count(0)
    page.fill("#search", "ANNUAL")
    expect(document).to_have_count(1)
    document.click()
    expect(page.locator("#timeline-rows tr").first).to_contain_text("Detect", timeout=LIVE_MS)
    expect(page.locator("#document-facts")).to_contain_text("keywords")
    screenshot(page, "3-succeeded-with-its-timeline")
    extract = page.locator("#function-rows tr", has_text="extract")
    expect(extract.locator("td").nth(1)).not_to_have_text("0", timeout=2 * LIVE_MS)  # its invocations
    expect(page.locator("#throughput-chart rect")).to_have_count(60)

    batch_id = scheduled_batch(server, [created["document_id"]])
    batch = row(page, "batch", "batch-id", batch_id)
    expect(batch.locator("td.status")).to_have_text("scheduled", timeout=LIVE_MS)
    page.once("dialog", lambda dialog: dialog.accept())
    batch.get_by_role("button", name="Cancel").click()
    expect(batch.locator("td.status")).to_have_text("cancelled", timeout=LIVE_MS)
    screenshot(page, "4-batch-cancelled")
    batch.get_by_role("button", name="Retry").click()
    retried = page.locator("#batch-rows tr").first  # the newest batch: the retry's
    expect(retried).not_to_have_attribute("data-batch-id", batch_id, timeout=LIVE_MS)
    expect(retried.locator("td.status")).to_have_text("completed", timeout=60_000)
    screenshot(page, "5-batch-retried")

    sqs = server.client("sqs")
    dead_letters = sqs.get_queue_url(QueueName="docflow-ingest-dlq")["QueueUrl"]
    event = server.upload_event(f"uploads/{created['document_id']}/{REPORT.name}")
    sqs.send_message(QueueUrl=dead_letters, MessageBody=json.dumps(event))
    queue = row(page, "queue", "queue", "docflow-ingest")
    expect(queue.locator("td").nth(4)).to_have_text("1", timeout=2 * LIVE_MS)
    screenshot(page, "6-a-dead-letter")
    queue.get_by_role("button", name="Redrive").click()
    expect(queue.locator("td").nth(4)).to_have_text("0", timeout=2 * LIVE_MS)
    screenshot(page, "7-redriven")
    assert (
        sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )
    assert page.evaluate("window.stayed") is True  # all of it without a reload


def test_a_browser_signed_in_by_the_form_tries_the_routes_in_the_api_explorer(server, page):
    page.goto(server.api + "/console")
    page.fill("#token", TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#documents-title")).to_be_visible()
    page.goto(server.api + "/docs")
    listing = page.locator(".opblock-get").filter(has=page.locator("[data-path='/batches']")).first
    listing.locator(".opblock-summary-control").click()
    listing.get_by_role("button", name="Try it out").click()
    listing.get_by_role("button", name="Execute").click()
    expect(listing.locator(".live-responses-table .response-col_status").nth(1)).to_have_text("200")
    expect(listing.locator(".live-responses-table")).to_contain_text('"batches"')
    screenshot(page, "8-api-explorer-signed-in")
