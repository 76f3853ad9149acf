"""Issue 28's end-to-end check, against a running `make run`: the operator page's kind of traffic
through /submit-event and the decision API at a fixed rate (vegeta, open loop) at the same time;
then every submitted transaction must be linked to its stored verdict, and /health must report no
verdict lag and no conflict. RELIABILITY.md records a run.

    .venv/bin/python bench/linked_run.py [--url http://localhost:8000] [--rate 150] [--seconds 60]

It signs in as a user of its own and uses an API key of its own, both removed at the end; it reads
the database `make run` uses (DATABASE_URL, default as in the Makefile)."""

import argparse
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DATABASE_URL", "postgres://fraudsite:fraudsite@localhost:5432/fraudsite")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudsite.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Permission, User  # noqa: E402

from api.models import ClientKey  # noqa: E402
from bench import decisions  # noqa: E402
from transactions.models import Transaction, Verdict  # noqa: E402
from users.models import Customer  # noqa: E402

LONDON = decisions.LONDON


def signed_in_session(url, username, password):
    """A requests session signed in to the site, with the CSRF token /submit-event needs."""
    session = requests.Session()
    session.get(f"{url}/accounts/login/", timeout=10)
    answer = session.post(f"{url}/accounts/login/", timeout=10, allow_redirects=False, data={
        "username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{url}/accounts/login/"})
    if answer.status_code != 302:
        raise SystemExit(f"could not sign in as {username}: {answer.status_code}")
    session.headers.update({"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{url}/"})
    return session


def submit_events(session, url, user_ids, rate, seconds, sent, failures):
    """POST /submit-event at `rate` a second for `seconds` (each on its schedule, whatever the
    answers do, as far as one thread can); the ids accepted (2xx) go to `sent`, the refusals' bodies
    to `failures`."""
    start = time.monotonic()
    for i in range(int(rate * seconds)):
        time.sleep(max(start + i / rate - time.monotonic(), 0))
        transaction_id = f"linked-{secrets.token_hex(6)}"
        body = {"transaction_id": transaction_id, "user_id": user_ids[i % len(user_ids)], "amount": 25.0,
                "latitude": LONDON[0], "longitude": LONDON[1]}
        answer = session.post(f"{url}/submit-event", json=body, timeout=10)
        if answer.ok:
            sent.append(transaction_id)
        else:
            failures.append(f"{answer.status_code} {answer.text[:200]}")


def map_page_screenshot(url, username, password, path):
    """Sign in on the map page in Chromium, wait for the verdict lag badge, save a screenshot;
    returns the badge's text."""
    from playwright.sync_api import expect, sync_playwright

    from tests.support.browser import chromium

    with sync_playwright() as playwright:
        browser = chromium(playwright)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.goto(f"{url}/")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            badge = page.locator("#verdict-lag")
            expect(badge).to_have_attribute("data-status", "ok", timeout=20_000)
            page.screenshot(path=path)
            return badge.inner_text()
        finally:
            browser.close()


def unlinked(transaction_ids):
    """The ids among transaction_ids with a stored Transaction and no stored Verdict."""
    ids = sorted(transaction_ids)
    stored = set(Transaction.objects.filter(transaction_id__in=ids).values_list("transaction_id", flat=True))
    judged = set(Verdict.objects.filter(transaction_id__in=ids).values_list("transaction_id", flat=True))
    return sorted(stored - judged), sorted(set(ids) - stored)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://localhost:8000")
    parser.add_argument("--rate", type=int, default=150, help="decision API requests a second")
    parser.add_argument("--submit-rate", type=int, default=20, help="/submit-event requests a second")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--screenshot", help="save the map page (its verdict lag badge) here afterwards, in Chromium")
    options = parser.parse_args()
    user_ids = list(Customer.objects.order_by("user_id").values_list("user_id", flat=True)[:4])
    if not user_ids:
        raise SystemExit("no customers: run `make run` (it creates the demo customers) first")

    password = secrets.token_urlsafe(16)
    user = User.objects.create_user(f"linked-run-{secrets.token_hex(3)}", password=password)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["add_transaction", "view_verdict"]))
    key, secret = ClientKey.objects.create_key(name=user.username, scopes=["decisions"],
                                               rate_limit_per_minute=options.rate * 60 * 2)
    try:
        session = signed_in_session(options.url, user.username, password)
        vegeta = decisions.install_vegeta()
        workdir = Path(tempfile.mkdtemp(prefix="linked-run-"))
        targets = decisions.write_targets(workdir / "targets", f"{options.url}{decisions.DECISIONS_PATH}", user_ids,
                                          options.rate * options.seconds, headers={"Authorization": [f"Api-Key {secret}"]})
        print(f"{options.rate}/s decisions and {options.submit_rate}/s /submit-event for {options.seconds} s "
              f"on {options.url}, customers {', '.join(user_ids)} ...", flush=True)
        sent, failures = [], []
        submitter = threading.Thread(target=submit_events, args=(
            session, options.url, user_ids, options.submit_rate, options.seconds, sent, failures))
        attack = decisions.start_attack(vegeta, targets, options.rate, options.seconds, workdir / "results.bin")
        submitter.start()
        decisions.finish_attack(attack)
        submitter.join()
        results = decisions.read_results(vegeta, workdir / "results.bin")
        answered = {result.transaction_id for result in results if result.answer in ("verdict", "timed_out")}
        every = answered | set(sent)
        print(f"sent: {len(results)} decisions ({len(answered)} answered and recorded), {len(sent)} events "
              f"({len(failures)} refused); waiting for every verdict ...", flush=True)
        deadline = time.monotonic() + 60
        while (missing := unlinked(every))[0] and time.monotonic() < deadline:
            time.sleep(1)
        health = requests.get(f"{options.url}/health", timeout=10).json()
        summary = {
            "decisions": dict(sorted(decisions.step_statistics(results, options.rate, options.seconds, None,
                                                               options.seconds, 0.0).items())),
            "events_sent": len(sent), "events_refused": len(failures), "transactions": len(every),
            "without_verdict": len(missing[0]), "not_stored": len(missing[1]),
            "health": {name: health.get(name) for name in (
                "status", "verdict_lag_seconds", "oldest_unjudged_transaction_seconds", "verdict_conflicts")},
            "first_refusals": failures[:3],
        }
        print(json.dumps(summary, indent=2, default=str))
        if options.screenshot:
            badge = map_page_screenshot(options.url, user.username, password, options.screenshot)
            print(f"map page: the badge says {badge!r}; screenshot {options.screenshot}")
        return 0 if not missing[0] and not missing[1] and not failures else 1
    finally:
        ClientKey.objects.filter(pk=key.pk).update(revoked=True)
        user.delete()


if __name__ == "__main__":
    sys.exit(main())
