"""Rule-quality analytics (/analytics/): every figure against an independent computation in the
test on seeded verdicts and decisions, the period's edges, CSV exports, errors and permissions."""

import csv
import html
import io
import random
import statistics
from datetime import date, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse

from alerts import analytics, reviews
from alerts.models import AlertReview
from fraudsite.detection_sql import FRAUD_REASONS
from tests.support import wait_until
from tests.support.reviews import user_with, verdict
from transactions.export import csv_lines

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="analytics needs PostgreSQL")]

FIRST, LAST = date(2026, 5, 1), date(2026, 5, 3)
START = datetime(2026, 5, 1, tzinfo=timezone.utc)
END = datetime(2026, 5, 4, tzinfo=timezone.utc)  # midnight after the last day
PERIOD = analytics.Period(FIRST, LAST)


@pytest.fixture
def reviewer(django_user_model):
    return user_with(django_user_model, "view_verdict", "review_alert")


def alert_at(received_at, reasons, status="FRAUD"):
    return verdict(reasons=reasons, status=status, minutes=0, received_at=received_at, timestamp=received_at)


def decide(alert, decision, at, user):
    """A decision through the product's own path, then dated (decided_at is set on creation)."""
    review = reviews.review_alert(alert.pk, decision, "checked", user)
    AlertReview.objects.filter(pk=review.pk).update(decided_at=at)
    return at


def seed(user, count=120, seed=16):
    """Alerts with one to three fraud reasons (some also with a suppressed one), spread over the
    period and a day either side, left open or decided once or twice, some decisions made after
    the period; and VALID verdicts (one with only suppressed reasons). Returns what the test knows:
    per alert its reasons, arrival, decisions in order."""
    rng = random.Random(seed)
    known = []
    for n in range(count):
        received_at = START - timedelta(days=1) + timedelta(minutes=rng.randrange(5 * 24 * 60))
        reasons = rng.sample(FRAUD_REASONS, rng.choice([1, 1, 2, 3]))
        listed = ",".join(reasons + (["suppressed:unusual_hour"] if "unusual_hour" not in reasons and n % 7 == 0 else []))
        alert = alert_at(received_at, listed)
        decisions, at = [], received_at
        for decision in rng.choice([[], [], ["confirmed_fraud"], ["false_positive"], ["needs_follow_up"],
                                    ["needs_follow_up", "confirmed_fraud"], ["confirmed_fraud", "false_positive"]]):
            at = at + timedelta(minutes=rng.randrange(1, 3 * 24 * 60))  # up to three days later: past the period too
            decisions.append((decision, decide(alert, decision, at, user)))
        known.append({"reasons": reasons, "received_at": received_at, "decisions": decisions})
    alert_at(START + timedelta(hours=1), "within_limit", status="VALID")
    alert_at(START + timedelta(hours=2), "suppressed:speed_above_limit", status="VALID")
    return known


def in_period(known):
    return [alert for alert in known if START <= alert["received_at"] < END]


def expected_reason_row(reason, alerts):
    """The definitions of docs/analyst/analytics.md, computed here in Python from what the test seeded."""
    mine = [alert for alert in alerts if reason in alert["reasons"]]
    decided = [alert for alert in mine if alert["decisions"]]
    status = [alert["decisions"][-1][0] for alert in decided]  # the latest decision is the alert's status
    confirmed, false_positive = status.count("confirmed_fraud"), status.count("false_positive")
    waits = [(alert["decisions"][0][1] - alert["received_at"]).total_seconds() / 60 for alert in decided]
    return {
        "reason": reason, "alerts": len(mine), "reviewed": len(decided),
        "share_reviewed": round(len(decided) / len(mine), 4) if mine else None,
        "confirmed_fraud": confirmed, "false_positive": false_positive,
        "needs_follow_up": status.count("needs_follow_up"),
        "precision": round(confirmed / (confirmed + false_positive), 4) if confirmed + false_positive else None,
        "false_positive_rate": round(false_positive / len(decided), 4) if decided else None,
        "median_minutes_to_first_decision": round(statistics.median(waits), 1) if waits else None,
    }


def test_every_reason_figure_matches_an_independent_computation(reviewer):
    alerts = in_period(seed(reviewer))
    assert 50 < len(alerts) < 120  # the seed has alerts on either side of the period too

    table = analytics.reason_table(PERIOD)

    assert table == [expected_reason_row(reason, alerts) for reason in FRAUD_REASONS]
    assert all(row["reviewed"] and row["confirmed_fraud"] and row["false_positive"] for row in table)


def test_a_small_case_by_hand(reviewer):
    """Given a speed alert confirmed after 10 minutes, a speed + velocity alert marked for follow-up
    after 20 minutes and then false positive, and an open velocity alert, then speed_above_limit
    has 2 alerts, both reviewed, precision 50 %, false-positive rate 50 %, median 15 minutes."""
    at = START + timedelta(hours=5)
    decide(alert_at(at, "speed_above_limit"), "confirmed_fraud", at + timedelta(minutes=10), reviewer)
    both = alert_at(at, "speed_above_limit,velocity_exceeded")
    decide(both, "needs_follow_up", at + timedelta(minutes=20), reviewer)
    decide(both, "false_positive", at + timedelta(days=9), reviewer)  # long after the period: still counts
    alert_at(at, "velocity_exceeded")
    old = alert_at(START - timedelta(seconds=1), "speed_above_limit")  # before the period: not counted,
    decide(old, "confirmed_fraud", at, reviewer)  # even though decided within it

    speed, _, velocity, *_ = analytics.reason_table(PERIOD)

    assert speed == {"reason": "speed_above_limit", "alerts": 2, "reviewed": 2, "share_reviewed": 1.0,
                     "confirmed_fraud": 1, "false_positive": 1, "needs_follow_up": 0, "precision": 0.5,
                     "false_positive_rate": 0.5, "median_minutes_to_first_decision": 15.0}
    assert velocity == {"reason": "velocity_exceeded", "alerts": 2, "reviewed": 1, "share_reviewed": 0.5,
                        "confirmed_fraud": 0, "false_positive": 1, "needs_follow_up": 0, "precision": 0.0,
                        "false_positive_rate": 1.0, "median_minutes_to_first_decision": 20.0}


def test_the_period_runs_from_the_first_midnight_to_the_midnight_after_the_last_day():
    alert_at(START, "spend_deviation")  # the first instant: in
    alert_at(END - timedelta(microseconds=1), "spend_deviation")  # the last instant: in
    alert_at(END, "spend_deviation")  # the next day: out
    alert_at(START - timedelta(microseconds=1), "spend_deviation")  # the day before: out

    spend = next(row for row in analytics.reason_table(PERIOD) if row["reason"] == "spend_deviation")
    trend = analytics.trend_table(PERIOD)

    assert spend["alerts"] == 2 and spend["reviewed"] == 0 and spend["precision"] is None
    assert trend["counts"]["spend_deviation"] == [1, 0, 1]


def test_cofiring_counts_alerts_listing_both_reasons(reviewer):
    alerts = in_period(seed(reviewer))

    table = analytics.cofiring_table(PERIOD)

    assert table["reasons"] == FRAUD_REASONS
    for i, a in enumerate(FRAUD_REASONS):
        for j, b in enumerate(FRAUD_REASONS):
            assert table["counts"][i][j] == sum(1 for alert in alerts if a in alert["reasons"] and b in alert["reasons"])
    assert table["counts"][0][0] == analytics.reason_table(PERIOD)[0]["alerts"]  # the diagonal: the reason's alerts
    assert any(table["counts"][i][j] for i in range(5) for j in range(5) if i != j)


def test_the_trend_counts_alerts_per_reason_per_day(reviewer):
    alerts = in_period(seed(reviewer))

    trend = analytics.trend_table(PERIOD)

    assert trend["days"] == [FIRST, date(2026, 5, 2), LAST]
    for reason in FRAUD_REASONS:
        assert trend["counts"][reason] == [
            sum(1 for alert in alerts if reason in alert["reasons"] and alert["received_at"].date() == day)
            for day in trend["days"]]


def test_suppressed_reasons_and_valid_verdicts_are_not_alerts():
    alert_at(START, "speed_above_limit,suppressed:spend_deviation")
    alert_at(START, "suppressed:speed_above_limit", status="VALID")

    counts = {row["reason"]: row["alerts"] for row in analytics.reason_table(PERIOD)}

    assert counts == {"speed_above_limit": 1, "non_positive_elapsed_time": 0, "velocity_exceeded": 0,
                      "spend_deviation": 0, "unusual_hour": 0}


def test_a_block_lists_reason_is_counted_like_a_signals(reviewer):
    from watchlists.models import WatchList

    WatchList.objects.create(name="stolen-cards", kind="card_token", effect="block")
    WatchList.objects.create(name="trusted", kind="merchant", effect="allow")  # an allow list fires no reason
    at = START + timedelta(hours=1)
    decide(alert_at(at, "list:stolen-cards,velocity_exceeded"), "confirmed_fraud", at + timedelta(minutes=5), reviewer)
    alert_at(at, "suppressed:list:stolen-cards", status="VALID")

    *_, listed = analytics.reason_table(PERIOD)
    cofiring = analytics.cofiring_table(PERIOD)

    assert (listed["reason"], listed["alerts"], listed["confirmed_fraud"], listed["precision"]) == (
        "list:stolen-cards", 1, 1, 1.0)
    assert cofiring["reasons"] == [*FRAUD_REASONS, "list:stolen-cards"]
    assert cofiring["counts"][-1][FRAUD_REASONS.index("velocity_exceeded")] == 1
    assert analytics.trend_table(PERIOD)["counts"]["list:stolen-cards"] == [1, 0, 0]


def test_a_counter_rules_reason_is_counted_like_a_signals(reviewer):
    from counterrules.models import CounterRule

    CounterRule.objects.create(name="card-shared", key="card", window="24h", aggregate="customers", comparison=">",
                               threshold=1, active=False)  # retired: its verdicts still count
    at = START + timedelta(hours=1)
    decide(alert_at(at, "rule:card-shared"), "false_positive", at + timedelta(minutes=5), reviewer)

    *_, ruled = analytics.reason_table(PERIOD)

    assert (ruled["reason"], ruled["alerts"], ruled["false_positive"], ruled["precision"]) == ("rule:card-shared", 1, 1, 0.0)
    assert analytics.cofiring_table(PERIOD)["reasons"][-1] == "rule:card-shared"


# --- the page and its CSV exports ---------------------------------------------------------------

def page(client, **params):
    return client.get(reverse("analytics"), params)


def test_the_page_shows_the_tables_and_hands_the_charts_their_data(client, reviewer):
    seed(reviewer, count=30)
    client.force_login(reviewer)

    response = page(client, **{"from": "2026-05-01", "to": "2026-05-03"})

    assert response.status_code == 200
    assert response.context["reasons"] == analytics.reason_table(PERIOD)
    body = response.content.decode()
    assert 'id="reasons-chart"' in body and 'id="trend-chart"' in body
    assert 'id="analytics-data" type="application/json"' in body
    assert "charts/chart.js/chart.umd.min.js" in body and "alerts/analytics.js" in body
    assert "<script>" not in body  # data reach the page as JSON text, never inline script
    assert response.context["chart_data"]["trend"]["days"] == ["2026-05-01", "2026-05-02", "2026-05-03"]
    for table in ("reasons", "cofiring", "trend"):
        assert f"/analytics/{table}.csv?from=2026-05-01&amp;to=2026-05-03" in body


def test_the_default_period_is_the_last_30_days():
    period = analytics.period_from({}, today=date(2026, 5, 30))
    assert (period.first, period.last) == (date(2026, 5, 1), date(2026, 5, 30))
    assert analytics.period_from({"to": "2026-02-10"}).first == date(2026, 1, 12)


@pytest.mark.parametrize("params, message", [
    ({"from": "2026-13-01"}, "The period's start (from) must be a date written YYYY-MM-DD, not 2026-13-01."),
    ({"to": "20260501"}, "The period's end (to) must be a date written YYYY-MM-DD, not 20260501."),
    ({"from": "yesterday"}, "The period's start (from) must be a date written YYYY-MM-DD, not yesterday."),
    ({"from": "2026-05-03", "to": "2026-05-01"}, "The period's start (2026-05-03) is after its end (2026-05-01)."),
    ({"from": "2025-01-01", "to": "2026-01-02"}, "The period is 367 days long; at most 366 days."),
])
def test_a_bad_period_is_a_400_that_says_why(client, reviewer, params, message):
    client.force_login(reviewer)
    response = page(client, **params)
    assert response.status_code == 400 and message in html.unescape(response.content.decode())
    csv_response = client.get(reverse("analytics-csv", args=["trend"]), params)
    assert csv_response.status_code == 400 and message in csv_response.content.decode()


def test_the_longest_period_is_366_days(client, reviewer):
    client.force_login(reviewer)
    assert page(client, **{"from": "2025-01-01", "to": "2026-01-01"}).status_code == 200


def csv_rows(client, table, **params):
    response = client.get(reverse("analytics-csv", args=[table]), params)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def cells(values):
    return ["" if value is None else str(value) for value in values]


def test_each_csv_export_equals_its_table(client, reviewer):
    seed(reviewer)
    client.force_login(reviewer)
    period = {"from": "2026-05-01", "to": "2026-05-03"}

    reasons = csv_rows(client, "reasons", **period)
    cofiring = csv_rows(client, "cofiring", **period)
    trend = csv_rows(client, "trend", **period)

    assert reasons[0] == analytics.REASON_COLUMNS
    assert reasons[1:] == [cells(row[column] for column in analytics.REASON_COLUMNS)
                           for row in analytics.reason_table(PERIOD)]
    matrix = analytics.cofiring_table(PERIOD)
    assert cofiring == [["reason", *FRAUD_REASONS],
                        *[[reason, *cells(row)] for reason, row in zip(FRAUD_REASONS, matrix["counts"])]]
    series = analytics.trend_table(PERIOD)
    assert trend[0] == ["day", *FRAUD_REASONS]
    assert trend[1:] == [[day.isoformat(), *cells(series["counts"][reason][n] for reason in FRAUD_REASONS)]
                         for n, day in enumerate(series["days"])]
    assert client.get(reverse("analytics-csv", args=["verdicts"]), period).status_code == 404


def test_csv_cells_go_through_the_export_formula_guard():
    lines = "".join(csv_lines(["reason", "=HYPERLINK(1)"], [["-1+2", -3, None]]))
    assert lines == "reason,'=HYPERLINK(1)\r\n'-1+2,-3,\r\n"


def test_csv_guards_a_formula_after_a_semicolon_and_shows_bidirectional_overrides():
    # A spreadsheet with ";" as its list separator would split x;=1+2 into x and a formula;
    # U+202E would show "exe.png" for "gnp.exe".
    lines = "".join(csv_lines(["note"], [["x;=1+2"], ["a\t@SUM(1)"], ["ok; fine"], ["\u202egnp.exe"]]))
    assert lines == "note\r\nx;'=1+2\r\na\t'@SUM(1)\r\nok; fine\r\n\ufffdgnp.exe\r\n"


def test_only_signed_in_users_who_may_view_verdicts_see_analytics(client, django_user_model):
    csv_url = reverse("analytics-csv", args=["reasons"])
    for url in (reverse("analytics"), csv_url):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(user_with(django_user_model))
    assert page(client).status_code == 403 and client.get(csv_url).status_code == 403
    client.force_login(user_with(django_user_model, "view_verdict"))
    assert page(client).status_code == 200 and client.get(csv_url).status_code == 200


def test_the_navigation_links_analytics_for_those_who_may_see_it(rf, django_user_model):
    def navigation(user):
        request = rf.get("/")
        request.user = user
        return render_to_string("base.html", request=request)

    assert 'href="/analytics/"' not in navigation(user_with(django_user_model))
    assert 'href="/analytics/"' in navigation(user_with(django_user_model, "view_verdict"))


def test_without_postgresql_the_page_says_so(client, reviewer, monkeypatch):
    monkeypatch.setattr(analytics, "supported", lambda: False)
    client.force_login(reviewer)
    assert "Analytics needs PostgreSQL" in page(client).content.decode()
    response = client.get(reverse("analytics-csv", args=["reasons"]))
    assert response.status_code == 503 and "Analytics needs PostgreSQL" in response.content.decode()


@pytest.mark.django_db(transaction=True)  # the live server reads what the test committed
def test_the_charts_draw_in_a_browser_under_the_content_security_policy(live_server, django_user_model):
    """Debian's Chromium on the page (pytest-django's live server, static files from node_modules):
    both canvases drawn by Chart.js, the matrix shaded, and no console error (a CSP refusal is one)."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import chromium

    user = user_with(django_user_model, "view_verdict", "review_alert")
    user.set_password("pw")
    user.save()
    seed(user, count=40)
    errors = []
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.on("console", lambda message: message.type == "error"  # the site has no favicon (not this page's)
                    and not message.location.get("url", "").endswith("/favicon.ico") and errors.append(message.text))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{live_server.url}/analytics/?from=2026-05-01&to=2026-05-03")
            page.fill("input[name=username]", user.username)
            page.fill("input[name=password]", "pw")
            page.click("button[type=submit]")
            # Polled from here: wait_for_function's own polling evaluates its predicate with eval() in
            # the page, which the page's Content-Security-Policy rightly refuses.
            wait_until(lambda: page.evaluate(
                "!!(window.Chart && Chart.getChart('reasons-chart') && Chart.getChart('trend-chart'))"),
                15, "both charts drawn")
            drawn = page.evaluate("""['reasons-chart', 'trend-chart'].map((id) => {
                const canvas = document.getElementById(id);
                const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                let painted = 0;
                for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) painted++;
                return [canvas.width, painted, Chart.getChart(id).data.datasets.length];
            })""")
            assert page.locator("#cofiring td[class^=shade-]").count() > 5
        finally:
            browser.close()
    (reasons_width, reasons_painted, reasons_sets), (_, trend_painted, trend_sets) = drawn
    assert reasons_width > 300 and reasons_painted > 5000 and trend_painted > 5000
    assert (reasons_sets, trend_sets) == (4, len(FRAUD_REASONS))
    assert errors == []
