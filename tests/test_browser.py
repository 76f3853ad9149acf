"""The whole product in a real browser: Chromium signs in, double-clicks the map twice, and sees
the FRAUD verdict arrive over the WebSocket from the real Kafka + Flink pipeline.

The web server (fraudsite.server: uvicorn) in production mode (DEBUG off, collected static files served by
WhiteNoise); the verdict worker runs as its own process; the channel layer is Redis.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from localstack.layout import paths
from tests.support.browser import chromium
from tests.support.kafka import unique
from tests.support.reviews import user_with, verdict
from tests.support.pipeline import wait_until_customers_read
from users.demo import create_operator
from transactions.models import Verdict
from users.models import Customer
from outbox.publisher import publish_all_pending

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

ARTIFACTS = settings.BASE_DIR / "test-artifacts"


def sign_in(browser, url, username, password, init_script=None, offline_but=None):
    """A new browser context (its own cookies) signed in as username, on url: the page.
    init_script runs first in every page loaded; offline_but: every request to anything but
    this site fails."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    if init_script:
        page.add_init_script(init_script)
    if offline_but:
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(offline_but)
                   else route.abort("internetdisconnected"))
    page.goto(url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    return page


def signed_in_page(playwright, site, password, init_script=None, offline=False):
    """Debian's Chromium, signed in as the operator on the map page: (browser, page)."""
    browser = chromium(playwright)
    return browser, sign_in(browser, site + "/", "operator", password, init_script, site if offline else None)


def test_an_operator_double_clicks_two_far_points_and_sees_fraud_arrive(live_site, django_capture_on_commit_callbacks):
    from playwright.sync_api import expect, sync_playwright

    lena = Customer.objects.create(user_id=unique("lena"), first_name="Lena", last_name="Whitaker", max_speed=10)
    publish_all_pending()  # sent by the site's publisher or this call, whichever locks the outbox first
    password = create_operator()
    wait_until_customers_read()  # the detection job has read Lena's limit
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        browser, page = signed_in_page(playwright, live_site, password, offline=True)
        try:
            page.select_option("#customer", lena.user_id)
            expect(page.locator("#connection")).to_have_text("live", timeout=15_000)
            # No network but this site: the country outlines are drawn all the same.
            expect(page.locator("#map")).to_have_attribute("data-outlines", "drawn", timeout=15_000)
            assert page.locator(".leaflet-outlines-pane path").count() > 100

            box = page.locator("#map").bounding_box()
            submitted = []
            for x_share, amount in ((0.35, "12.50"), (0.65, "99.00")):  # thousands of km apart at zoom 2
                page.mouse.dblclick(box["x"] + box["width"] * x_share, box["y"] + box["height"] * 0.5)
                page.fill("#amount", amount)
                with page.expect_response("**/api/transactions") as response:
                    page.click("#amount-submit")
                assert response.value.status == 202
                submitted.append(response.value.json()["transaction_id"])

            fraud = page.locator(f'#log li[data-transaction-id="{submitted[1]}"] .badge')
            expect(fraud).to_have_text("FRAUD", timeout=30_000)
            first = page.locator(f'#log li[data-transaction-id="{submitted[0]}"] .badge')
            expect(first).to_have_text("VALID")
            page.screenshot(path=str(ARTIFACTS / "operator-page.png"))

            # Review the alert from the map page; the alert's page then shows the decision.
            alert_entry = page.locator(f'#log li[data-transaction-id="{submitted[1]}"]')
            alert_entry.locator(".review-button").click()
            page.select_option("#review-decision", "confirmed_fraud")
            page.fill("#review-comment", "Two capitals in minutes.")
            with page.expect_response(f"**/api/alerts/{submitted[1]}/review") as response:
                page.click("#review-submit")
            assert response.value.status == 200
            expect(alert_entry.locator(".review-status")).to_have_text("review: confirmed fraud by operator")

            alert_entry.locator(".review-status").click()
            expect(page.locator("#review-status")).to_have_text("Confirmed fraud")
            expect(page.locator(".history li").first).to_contain_text("Two capitals in minutes.")
            page.screenshot(path=str(ARTIFACTS / "alert-page.png"))

            # The customer's view: both transactions on the path, and the timeline with reasons.
            page.click(f"text=Lena Whitaker ({lena.user_id})")
            expect(page.locator("#timeline tbody tr")).to_have_count(2)
            expect(page.locator("#timeline tbody tr").first).to_contain_text("speed_above_limit")
            expect(page.locator("#customer-map path.leaflet-interactive")).to_have_count(3)  # line + 2 points
            page.screenshot(path=str(ARTIFACTS / "customer-page.png"))
        finally:
            browser.close()


@pytest.mark.destructive
def test_the_verdict_lag_badge_turns_red_while_verdicts_are_held_and_green_again(live_site, stack):
    import os
    import signal

    from playwright.sync_api import expect, sync_playwright

    password = create_operator()
    taskmanager = int(paths().pidfile("flink-taskmanager").read_text())
    with sync_playwright() as playwright:
        browser, page = signed_in_page(playwright, live_site, password)
        try:
            badge = page.locator("#verdict-lag")
            expect(badge).to_have_attribute("data-status", "ok", timeout=20_000)
            expect(badge).to_have_class("badge online")
            os.kill(taskmanager, signal.SIGSTOP)  # verdicts held; shorter than the 10 s heartbeat timeout
            try:
                expect(badge).to_have_attribute("data-status", "lagging", timeout=8_000)
                expect(badge).to_have_class("badge lagging")  # red
                expect(badge).to_contain_text("verdict lag")
                page.screenshot(path=str(ARTIFACTS / "verdict-lag-badge.png"))
            finally:
                os.kill(taskmanager, signal.SIGCONT)
            expect(badge).to_have_attribute("data-status", "ok", timeout=60_000)
        finally:
            browser.close()


SCRIPT = '<img src=x onerror=alert("xss")><script>alert("xss")</script>'
WATCH_FOR_SCRIPT = """
window.__ran = [];
window.alert = (message) => window.__ran.push("alert " + message);
window.__violations = [];
document.addEventListener("securitypolicyviolation",
    (event) => window.__violations.push(event.violatedDirective + " " + event.blockedURI));
"""


def test_script_in_every_text_field_never_runs_on_any_page(live_site, django_capture_on_commit_callbacks):
    from playwright.sync_api import expect, sync_playwright

    from tests.support.records import stored_verdict
    from transactions.broadcast import push_verdicts

    customer = Customer.objects.create(user_id=unique("xss"), first_name=SCRIPT, last_name=SCRIPT, max_speed=10)
    stored = stored_verdict(transaction_id=unique("xss-stored"))
    Verdict.objects.filter(pk=stored.pk).update(first_name=SCRIPT, last_name=SCRIPT, user_id=customer.user_id,
                                                customer=customer, reasons=SCRIPT, prev_transaction_id=SCRIPT)
    live = stored_verdict(transaction_id=unique("xss-live"))
    Verdict.objects.filter(pk=live.pk).update(first_name=SCRIPT, last_name=SCRIPT, user_id=customer.user_id,
                                              reasons=SCRIPT, lat=10.0, lng=20.0)
    password = create_operator()
    live = Verdict.objects.with_alert_state().get(pk=live.pk)  # as the pages push it
    with sync_playwright() as playwright:
        browser, page = signed_in_page(playwright, live_site, password, init_script=WATCH_FOR_SCRIPT)
        try:
            expect(page.locator("#connection")).to_have_text("live", timeout=15_000)
            # A live verdict over the WebSocket (pushed from another thread: Playwright's loop runs in this one).
            with ThreadPoolExecutor(max_workers=1) as pusher:
                assert pusher.submit(push_verdicts, [live]).result()
            entry = page.locator(f'#log li[data-transaction-id="{live.transaction_id}"]')
            expect(entry).to_contain_text(SCRIPT)  # shown as text
            for marker in page.locator("#map path.leaflet-interactive").all():
                marker.click(force=True)  # open every popup
            expect(page.locator(".leaflet-popup-content").last).to_contain_text("<img src=x")
            page.screenshot(path=str(ARTIFACTS / "script-on-the-map.png"))
            visited = []
            for url in ["/alerts/", f"/alerts/{stored.transaction_id}/", f"/customers/{customer.user_id}/",
                        "/admin/transactions/verdict/", f"/admin/transactions/verdict/{stored.pk}/change/",
                        "/admin/users/customer/", f"/admin/users/customer/{customer.pk}/change/",
                        f"/admin/users/customer/{customer.pk}/history/"]:
                page.goto(live_site + url)
                if "/customers/" in url:
                    for marker in page.locator("#customer-map path.leaflet-interactive").all():
                        marker.click(force=True)
                visited.append((url, page.evaluate("[window.__ran, window.__violations]")))
            page.screenshot(path=str(ARTIFACTS / "script-shown-as-text.png"))
        finally:
            browser.close()
    problems = [(url, found) for url, found in visited if found != [[], []]]
    assert not problems and len(visited) == 8, problems


def test_two_analysts_one_takes_an_alert_the_other_sees_it_held_and_a_case_closes_its_alerts(live_site,
                                                                                            django_user_model):
    from playwright.sync_api import expect, sync_playwright

    lena = Customer.objects.create(user_id=unique("lena"), first_name="Lena", last_name="Whitaker", max_speed=10)
    alerts = [verdict(user_id=lena.user_id, customer=lena, minutes=i) for i in range(2)]
    other = verdict(minutes=5)  # someone else's: not in Lena's case
    ana, ben = (user_with(django_user_model, "view_verdict", "review_alert", "add_travelnotice") for _ in range(2))
    for analyst in (ana, ben):
        analyst.set_password("pw-" + analyst.username)
        analyst.save()
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        browser = chromium(playwright)
        try:
            pages = {user: sign_in(browser, live_site + "/alerts/", user.username, "pw-" + user.username)
                     for user in (ana, ben)}
            bens_map = pages[ben].context.new_page()
            bens_map.goto(live_site + "/")
            for page in (*pages.values(), bens_map):
                expect(page.locator("#connection")).to_have_text("live", timeout=15_000)

            pages[ana].click("#take-next")  # the oldest open alert: Lena's first
            expect(pages[ana].locator("#holder")).to_contain_text(ana.username)
            # Live, without reloading: on Ben's queue and on his map page's log.
            held_row = pages[ben].locator(f'tr[data-transaction-id="{alerts[0].transaction_id}"] .holder')
            expect(held_row).to_have_text(ana.username, timeout=10_000)
            expect(bens_map.locator(f'[data-holder-of="{alerts[0].transaction_id}"]')).to_have_text(
                f"held by {ana.username}")
            pages[ben].screenshot(path=str(ARTIFACTS / "workbench-queue.png"))
            pages[ben].click("#take-next")  # never the alert Ana holds
            expect(pages[ben].locator("h1")).to_contain_text(alerts[1].transaction_id)
            pages[ben].click("#release")  # holds bind: Ben hands it back, so that Ana's case can decide it
            expect(pages[ben].locator("#holder")).to_have_text("nobody")

            pages[ana].click("#open-case")
            expect(pages[ana].locator("#case-alerts tbody tr")).to_have_count(2)
            pages[ana].fill("textarea[name=note]", "Called Lena: her card was stolen in Paris.")
            pages[ana].click("#add-note")
            # A travel notice for Lena, its region drawn on the map: a click sets the centre.
            notice_map = pages[ana].locator("#notice-map")
            box = notice_map.bounding_box()
            notice_map.click(position={"x": box["width"] * 0.52, "y": box["height"] * 0.3})
            pages[ana].fill("#id_radius_km", "250")
            expect(pages[ana].locator("#notice-map path.leaflet-interactive")).to_have_count(1)  # the circle
            starts = timezone.localtime() + timedelta(hours=1)
            pages[ana].fill("#id_starts_at", f"{starts:%Y-%m-%dT%H:%M}")
            pages[ana].fill("#id_ends_at", f"{starts + timedelta(days=10):%Y-%m-%dT%H:%M}")
            pages[ana].select_option("#id_signal", "speed_above_limit")  # one signal: within one person's scope
            pages[ana].fill("#id_reason", "Travelling in Europe, called in.")
            pages[ana].click("#add-notice")
            expect(pages[ana].locator("#notices tbody tr")).to_contain_text("250 km around")
            pages[ana].select_option("select[name=decision]", "confirmed_fraud")
            pages[ana].fill("textarea[name=comment]", "Stolen card, confirmed by phone.")
            pages[ana].click("#decide-case")
            expect(pages[ana].locator("#case-status")).to_have_text("Decided")
            expect(pages[ana].locator("#case-alerts .review")).to_have_text(["Confirmed fraud"] * 2)
            pages[ana].screenshot(path=str(ARTIFACTS / "workbench-case.png"))

            pages[ben].goto(live_site + "/alerts/")
            expect(pages[ben].locator("tbody tr[data-transaction-id]")).to_have_count(1)  # only the other one waits
            expect(pages[ben].locator(f'tr[data-transaction-id="{other.transaction_id}"]')).to_have_count(1)
        finally:
            browser.close()
    assert {a.reviews.get().reviewer_username for a in alerts} == {ana.username}
