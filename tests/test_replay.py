"""Replaying proposals through the real stack: the live detection job judges seeded history, the
verdict worker stores it, and the replay runs the same rendered SQL over it in Flink."""

import io
import re
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from alerts.models import Alert
from counterrules.models import CounterRule
from outbox.publisher import publish_all_pending
from proposals.models import Proposal
from proposals.replay import replay_history
from proposals.services import ProposalRefused, approve, create_proposal, create_rule_proposal
from tests.support import wait_until
from tests.support.kafka import latest_records, unique
from tests.support.pipeline import HOUR_MS, Pipeline, great_circle_km, wait_until_customers_read
from tests.support.reviews import user_with
from fraudsite.topics import USERS_CONFIG
from transactions.models import Verdict
from transactions.worker import Options, Worker
from users.models import Customer

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

LONDON, PARIS = (51.5074, -0.1278), (48.8566, 2.3522)
# (place, hours after the first transaction): London-Paris is 343.5 km, so 1 h is ~343 km/h,
# 2 h ~172, 0.5 h ~687 and 4 h ~86.
HOPS = [(LONDON, 0), (PARIS, 1), (LONDON, 3), (PARIS, 3.5), (LONDON, 7.5), (PARIS, 8)]


@pytest.fixture
def history(stack):
    """seed(customer, hops) sends transactions through the live job and returns their ids once
    the verdict worker has stored every verdict."""
    pipeline = Pipeline()
    worker = Worker(Options(group_id=unique("replay-worker")))

    def run():
        try:
            worker.run()
        finally:
            connection.close()  # the thread's own, so that the test database can be dropped

    thread = threading.Thread(target=run)
    thread.start()

    def seed(customer, hops, amounts=None, **context):
        ids = [pipeline.transaction(customer.user_id, *place, offset_ms=int(hours * HOUR_MS),
                                    amount=(amounts or {}).get(number, 10.0), **context)
               for number, (place, hours) in enumerate(hops)]
        wait_until(Verdict.objects.filter(transaction_id__in=ids).count, 60, f"{len(ids)} verdicts stored",
                   until=lambda count: count == len(ids), interval=0.3)
        return ids

    yield seed
    worker.stop()
    thread.join(30)
    pipeline.close()


def customer(**thresholds):
    """A customer in the database and, through the outbox, in the running job."""
    made = Customer.objects.create(user_id=unique("cust"), first_name="Replay", last_name="Test", **thresholds)
    publish_all_pending()
    wait_until_customers_read()
    return made


def predicted_speeds(hops):
    """km/h of each hop from the previous one, by Vincenty's formula (not the job's haversine)."""
    return [great_circle_km(*a, *b) / (hb - ha) for (a, ha), (b, hb) in zip(hops, hops[1:])]


def test_one_proposal_lowering_one_limit_and_raising_another_gains_and_loses_exactly_the_predicted_alerts(
        history, django_user_model):
    """One replay of one proposal with two changes (each replay is a Flink job of its own, about
    13 s): Lena's limit lowered gains alerts, Elias's raised loses them, the lost ones named with
    the analysts' decisions on them; approval then reaches the running job."""
    speeds = predicted_speeds(HOPS)
    lena, elias = customer(max_speed=1000), customer(max_speed=100)
    lena_ids, elias_ids = history(lena, HOPS), history(elias, HOPS)
    assert set(Verdict.objects.filter(transaction_id__in=lena_ids).values_list("status", flat=True)) == {"VALID"}
    alerts = [transaction_id for transaction_id, speed in zip(elias_ids[1:], speeds) if speed > 100]
    assert set(Verdict.objects.filter(is_fraud=True, transaction_id__in=elias_ids)
               .values_list("transaction_id", flat=True)) == set(alerts)
    confirmed, dismissed = elias_ids[1], elias_ids[2]  # 343 and 172 km/h
    Alert.objects.filter(verdict__transaction_id=confirmed).update(review_status="confirmed_fraud",
                                                                   reviewed_at=timezone.now())
    Alert.objects.filter(verdict__transaction_id=dismissed).update(review_status="false_positive",
                                                                   reviewed_at=timezone.now())
    maker = user_with(django_user_model, "add_proposal", "approve_proposal")  # may approve, not their own
    checker = user_with(django_user_model, "approve_proposal")
    proposal = create_proposal(author=maker, reason="London-Paris in an hour is not a train; fewer false positives",
                               changes={lena.user_id: {"max_speed": 300}, elias.user_id: {"max_speed": 400}})

    output = io.StringIO()
    call_command("replay_proposal", proposal.pk, stdout=output)  # the replay server's work, in the foreground

    proposal = Proposal.objects.get(pk=proposal.pk)
    result = proposal.replay_result
    assert (proposal.status, proposal.replay_progress) == ("replayed", 100)
    assert "lost 2 (1 confirmed fraud, 1 false positive)" in output.getvalue()
    gained = {transaction_id for transaction_id, speed in zip(lena_ids[1:], speeds) if speed > 300}
    assert len(gained) == 3  # 343, 687, 687 km/h
    assert {row["transaction_id"] for row in result["affected"] if row["change"] == "gained"} == gained
    lost = {row["transaction_id"]: row for row in result["affected"] if row["change"] == "lost"}
    assert set(lost) == {t for t, speed in zip(elias_ids[1:], speeds) if 100 < speed <= 400} == {confirmed, dismissed}
    assert lost[confirmed]["review_status"] == "confirmed_fraud"
    assert (lost[confirmed]["before"], lost[confirmed]["after"]) == ("speed_above_limit", "within_limit")
    assert result["lost"] == {"count": 2, "confirmed_fraud": 1, "false_positive": 1, "needs_follow_up": 0, "open": 0}
    assert (result["gained"]["count"], result["gained"]["open"]) == (3, 3)
    # Elias's 4 alerts before; after, Lena's 3 and Elias's 2 above 400 km/h
    assert (result["alerts_before"], result["alerts_after"], result["transactions"]) == (4, 5, 2 * len(HOPS))
    assert result["per_reason"]["speed_above_limit"] == {"gained": 3, "lost": 2}
    assert set(result["timings"]) == {"export", "flink", "read", "compare"}

    with pytest.raises(ProposalRefused, match="someone other than its author"):
        approve(proposal, user=maker)
    approve(proposal, user=checker)
    publish_all_pending()
    value, _ = latest_records(USERS_CONFIG.name, lena.user_id)[-1]
    assert USERS_CONFIG.codec().decode(value)["max_speed"] == 300.0
    wait_until_customers_read()
    (after,) = history(lena, [(LONDON, 20), (PARIS, 21)])[1:]  # 343 km/h again, now over the new limit
    verdict = Verdict.objects.get(transaction_id=after)
    assert (verdict.status, verdict.max_speed) == ("FRAUD", 300.0)


def test_a_rule_proposal_replays_every_customer_with_the_candidate_rule_then_reaches_the_job(
        history, django_user_model):
    """A card shared by two customers: no rule fired live; the replay of a proposed rule judges
    both customers' history with it and gains the second use; approved, it reaches the running job."""
    card = unique("tok")
    ana, ben = customer(max_speed=100_000), customer(max_speed=100_000)
    (first,), (second,) = history(ana, [(LONDON, 0)], card_token=card), history(ben, [(PARIS, 1)], card_token=card)
    assert "rule:" not in Verdict.objects.get(transaction_id=second).reasons
    maker = user_with(django_user_model, "add_proposal")
    checker = user_with(django_user_model, "approve_proposal")
    proposal = create_rule_proposal(author=maker, reason="a card used by two customers", rule_changes={
        "card-shared": {"key": "card", "window": "24h", "aggregate": "customers", "comparison": ">", "threshold": 1,
                        "weight": 40}})

    call_command("replay_proposal", proposal.pk, stdout=io.StringIO())

    result = Proposal.objects.get(pk=proposal.pk).replay_result
    assert [(row["transaction_id"], row["after"]) for row in result["affected"]] == [(second, "rule:card-shared")]
    assert result["per_reason"]["rule:card-shared"] == {"gained": 1, "lost": 0}
    assert not CounterRule.objects.exists()  # replayed, not in force
    approve(proposal, user=checker)
    publish_all_pending()
    wait_until_customers_read()
    (third,) = history(ana, [(LONDON, 2)], card_token=card)
    assert "rule:card-shared" in Verdict.objects.get(transaction_id=third).reasons.split(",")


VERDICT_FIELDS = ["status", "reason", "reasons", "is_fraud", "prev_transaction_id", "max_speed", "distance_km",
                  "elapsed_seconds", "speed_kmh", "velocity_max_transactions", "velocity_window_minutes", "spend_factor",
                  "average_amount", "usual_hour_start", "usual_hour_end", "local_hour", "score", "outcome"]


def test_a_replay_with_the_thresholds_in_force_gives_the_live_jobs_answers(history, django_user_model):
    # Her usual hours are the first six of the twelve the transactions span (from now, in UTC), so
    # that the later ones are at an unusual hour whatever the time of day the test runs.
    now_hour = timezone.now().hour
    nina = customer(max_speed=500, velocity_max_transactions=3, velocity_window_minutes=90, spend_factor=3,
                    usual_hour_start=now_hour, usual_hour_end=(now_hour + 6) % 24)
    # 30 transactions: every signal fires somewhere; the window starts at the 26th, so the first
    # ones in it are judged with the look-back (previous transaction, 20 before) exported before it.
    hops = [((LONDON if n % 3 else PARIS), n * 0.4) for n in range(30)]
    ids = history(nina, hops, amounts={n: 10.0 * (1 + n % 4) + (200 if n in (12, 27) else 0) for n in range(30)})
    stored = {v.transaction_id: v for v in Verdict.objects.filter(transaction_id__in=ids)}
    start = stored[ids[25]].received_at
    assert {reason for v in stored.values() for reason in v.reasons.split(",")} >= {
        "speed_above_limit", "velocity_exceeded", "spend_deviation", "unusual_hour"}

    replayed = replay_history({nina.user_id: {"max_speed": 500}}, start, timezone.now() + timedelta(seconds=1))

    in_window = [t for t in ids if stored[t].received_at >= start]  # (ids[24] may share ids[25]'s millisecond)
    first = ids.index(in_window[0])
    assert set(replayed) == set(ids[max(first - 20, 0):])  # the window and (up to) the 20 before it
    for transaction_id in in_window:
        live, again = stored[transaction_id], replayed[transaction_id]
        for name in VERDICT_FIELDS:
            expected = getattr(live, name)
            actual = again[name] if name != "prev_transaction_id" else again[name] or ""
            assert actual == (pytest.approx(expected) if isinstance(expected, float) else expected), \
                f"{transaction_id} {name}"
    assert "spend_deviation" in stored[ids[27]].reasons  # its average needs the look-back



def test_a_browser_walks_propose_replay_approve_published(live_site, django_user_model):
    """Chromium against the live site: a maker drafts a lower limit for one customer from the
    customers' list, replays it and sees the alerts it would have gained; a checker approves it."""
    from playwright.sync_api import expect, sync_playwright

    from tests.support.browser import chromium

    artifacts = settings.BASE_DIR / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    lena = customer(max_speed=1000)
    pipeline = Pipeline()
    try:
        ids = [pipeline.transaction(lena.user_id, *place, offset_ms=int(hours * HOUR_MS)) for place, hours in HOPS]
    finally:
        pipeline.close()
    wait_until(Verdict.objects.filter(transaction_id__in=ids).count, 60, "the site's worker to store the verdicts",
               until=lambda count: count == len(ids), interval=0.3)
    maker = user_with(django_user_model, "view_customer", "add_proposal", "view_proposal", staff=True)
    checker = user_with(django_user_model, "view_proposal", "approve_proposal", staff=True)

    console_errors = []

    def signed_in(browser, user, path):
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        # A script refused by the Content-Security-Policy (or failing) shows here. (The site has no favicon.)
        page.on("console", lambda message: message.type == "error" and not message.location.get(
            "url", "").endswith("/favicon.ico") and console_errors.append(message.text))
        page.on("pageerror", lambda error: console_errors.append(str(error)))
        page.goto(f"{live_site}/accounts/login/?next={path}")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", "pw")
        page.click("button[type=submit]")
        return page

    with sync_playwright() as playwright:
        browser = chromium(playwright)
        try:
            page = signed_in(browser, maker, f"/admin/users/customer/?q={lena.user_id}")
            page.check("input[name=_selected_action]")
            page.select_option("select[name=action]", "propose_thresholds")
            page.click("button[name=index]")
            page.fill("input[name=max_speed]", "300")
            page.fill("input[name=reason]", "London-Paris in an hour is not a train")
            page.screenshot(path=str(artifacts / "proposal-1-draft.png"))
            page.click("input[name=propose]")
            expect(page.locator("#proposal-changes")).to_contain_text("300", timeout=10_000)
            # (no database access here: Playwright's event loop runs in this thread)
            proposal_pk = int(re.search(r"/proposal/(\d+)/change/", page.url).group(1))

            page.click("#replay-button")  # queued; the site's replay server (replay_proposal --serve) runs it
            expect(page.locator("#replay-progress progress")).to_be_visible()
            page.screenshot(path=str(artifacts / "proposal-2-replaying.png"))
            expect(page.locator("#replay-summary")).to_be_visible(timeout=180_000)  # the page reloads when done
            expect(page.locator("#replay-summary tr.gained")).to_contain_text("3")
            assert page.locator("#replay-affected tr.gained").count() == 3
            assert page.locator("#approve-button").count() == 0  # the maker may not approve
            page.screenshot(path=str(artifacts / "proposal-3-replayed.png"), full_page=True)

            page = signed_in(browser, checker, f"/admin/proposals/proposal/{proposal_pk}/change/")
            expect(page.locator("#replay-summary")).to_be_visible()
            page.click("#approve-button")
            expect(page.locator(".messagelist")).to_contain_text("published to users-config")
            page.screenshot(path=str(artifacts / "proposal-4-published.png"), full_page=True)
        finally:
            browser.close()

    assert console_errors == []
    proposal = Proposal.objects.get(pk=proposal_pk)
    assert proposal.changes == {lena.user_id: {"max_speed": 300.0}} and proposal.author == maker
    assert (proposal.status, proposal.decided_by) == ("published", checker)
    assert Customer.objects.get(pk=lena.pk).max_speed == 300
    wait_until(lambda: [USERS_CONFIG.codec().decode(v)["max_speed"] for v, _ in latest_records(USERS_CONFIG.name, lena.user_id)],
               30, "the site's outbox publisher to send the approved limit", until=lambda speeds: speeds[-1] == 300.0)
