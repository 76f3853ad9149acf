"""The decision API's promises with several web processes, against the real stack: a key revoked in
one place is refused by every process, an Idempotency-Key or a transaction id sent to two
processes at once makes one transaction, a full process answers at once with the fallback, and an
answered decision is stored even when the verdict worker is killed right after the answer."""

import os
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings

from api.endpoint import REPLAYED_HEADER
from api.models import ClientKey, Decision
from fraudsite import proxy
from localstack.layout import paths
from outbox.publisher import publish_all_pending
from tests.support import wait_until
from tests.support.kafka import unique
from tests.support.pipeline import LONDON_PARIS, wait_until_customers_read
from tests.support.site import another_web_server, running_site
from transactions.models import Transaction, Verdict
from users.models import Customer

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

LONDON = LONDON_PARIS[0]


@pytest.fixture
def two_processes(stack, tmp_path, postgres_redis_env):
    """Two web servers of one site (one process each, addressed one at a time), its worker and
    publisher: (first url, second url). Shedding on a late event loop is off: these tests are about
    what two processes promise together, and on a busy machine (CI beside other work) a process
    would otherwise shed some of the requests sent at once (admission has tests of its own)."""
    env = {**postgres_redis_env, "DECISION_BUDGET_MS": "5000", "LOOKUP_CACHE_SECONDS": "1",
           "DECISION_SHED_LAG_MS": "5000"}
    with running_site(env, tmp_path / "site.log", worker_group="processes-" + secrets.token_hex(4)) as site:
        with another_web_server(site, tmp_path / "second.log") as second:
            yield site.url, second


def new_key(**fields):
    _, secret = ClientKey.objects.create_key(name=unique("client"), scopes=["decisions"], **fields)
    return {"Authorization": f"Api-Key {secret}"}


def new_customer():
    customer = Customer.objects.create(user_id=unique("ada"), first_name="Ada", last_name="Byron", max_speed=900)
    publish_all_pending()
    wait_until_customers_read()
    return customer


def decide(url, headers, body):
    return requests.post(f"{url}/api/v1/decisions", json=body, headers=headers, timeout=30)


def payment(customer, **fields):
    return {"user_id": customer.user_id, "amount": 12.5, "lat": LONDON[0], "lng": LONDON[1], **fields}


def at_once(*calls):
    """Run the calls at the same moment, one thread each; their results in order."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def test_a_key_revoked_in_the_admin_is_refused_by_every_process_after_the_cache_period(two_processes):
    first, second = two_processes
    headers, invalid = new_key(), {"user_id": "x"}  # refused after authentication: nothing is sent
    assert [decide(url, headers, invalid).status_code for url in (first, second)] == [400, 400]
    ClientKey.objects.filter(name__startswith="client").update(revoked=True)
    time.sleep(settings.LOOKUP_CACHE_SECONDS + 0.2)  # what each process may have kept of the key
    answers = [decide(url, headers, invalid) for url in (first, second)]
    assert [answer.status_code for answer in answers] == [401, 401]
    assert answers[0].json() == {"detail": "Unknown or revoked API key."}


def test_one_idempotency_key_sent_to_two_processes_at_once_makes_one_transaction(two_processes):
    first, second = two_processes
    ada, headers = new_customer(), new_key()
    for attempt in range(5):
        key_headers = {**headers, "Idempotency-Key": f"order-{attempt}"}
        body = payment(ada)
        answers = at_once(lambda: decide(first, key_headers, body), lambda: decide(second, key_headers, body))
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses in ([200, 200], [200, 409]), [answer.text for answer in answers]
        decision = Decision.objects.get(idempotency_key=f"order-{attempt}")
        assert Transaction.objects.filter(transaction_id=decision.transaction_id).count() == 1
        # A shed request (its batch came too late) recorded nothing, so the other may answer too;
        # otherwise one answer is decided and any other is its replay.
        answered = [answer for answer in answers if answer.status_code == 200 and not answer.json().get("shed")]
        replays = [answer for answer in answered if answer.headers.get(REPLAYED_HEADER) == "true"]
        assert len(answered) - len(replays) == 1, [(answer.headers, answer.text) for answer in answers]
        saved = wait_until(lambda: Decision.objects.get(pk=decision.pk).answer, 30, "the answer to be saved")
        assert all(answer.json() == saved for answer in answered), [answer.text for answer in answers]
        conflicts = [answer.json() for answer in answers if answer.status_code == 409]
        assert all("still being answered" in conflict["error"] for conflict in conflicts)


def test_one_transaction_id_sent_to_two_processes_at_once_is_a_409_for_one_of_them(two_processes):
    first, second = two_processes
    ada, headers = new_customer(), new_key()
    for attempt in range(5):
        body = payment(ada, transaction_id=unique(f"auth-{attempt}"))
        answers = at_once(lambda: decide(first, headers, body), lambda: decide(second, headers, body))
        assert sorted(answer.status_code for answer in answers) == [200, 409], [answer.text for answer in answers]
        assert Transaction.objects.filter(transaction_id=body["transaction_id"]).count() == 1


def test_twelve_decisions_on_one_transaction_id_at_once_give_one_decided_answer_and_eleven_409s(two_processes):
    # Before the transaction was recorded ahead of the produce, all twelve were produced and the one
    # 200 was the fallback: "review" with timed_out (3 rounds of 3).
    first, second = two_processes
    ada, headers = new_customer(), new_key()
    for attempt in range(3):
        body = payment(ada, transaction_id=unique(f"dup-{attempt}"))
        answers = at_once(*[lambda url=url: decide(url, headers, body) for url in [first, second] * 6])
        statuses = sorted(answer.status_code for answer in answers)
        decided = [answer.json() for answer in answers if answer.status_code == 200]
        assert statuses == [200] + [409] * 11, [answer.text for answer in answers]
        assert [answer["timed_out"] for answer in decided] == [False], decided  # the job's verdict, in time
        assert Transaction.objects.filter(transaction_id=body["transaction_id"]).count() == 1
        wait_until(lambda: Verdict.objects.filter(transaction_id=body["transaction_id"]).count(), 30,
                   "its one verdict to be stored", until=lambda count: count == 1)


def test_a_full_process_answers_at_once_with_the_fallback_and_sends_nothing(stack, tmp_path, postgres_redis_env):
    ada, headers = new_customer(), new_key()
    env = {**postgres_redis_env, "DECISION_BUDGET_MS": "8000", "DECISION_MAX_IN_FLIGHT": "2",
           "DECISION_FALLBACK": "decline"}
    with running_site(env, tmp_path / "site.log", worker_group="full-" + secrets.token_hex(4)) as site:
        taskmanager = int(paths().pidfile("flink-taskmanager").read_text())
        with ThreadPoolExecutor(2) as pool:
            os.kill(taskmanager, signal.SIGSTOP)  # no verdicts: the first two requests wait
            try:
                waiting = [pool.submit(decide, site.url, headers, payment(ada)) for _ in range(2)]
                wait_until(lambda: Transaction.objects.filter(customer=ada).count(), 30,
                           "the two waiting requests to be recorded", until=lambda count: count == 2)
                refused = decide(site.url, headers, payment(ada, transaction_id=unique("shed")))
            finally:
                os.kill(taskmanager, signal.SIGCONT)
            assert refused.status_code == 200
            assert refused.json() == {"transaction_id": refused.json()["transaction_id"], "decision": "decline",
                                      "timed_out": False, "shed": True}
            assert not Transaction.objects.filter(transaction_id=refused.json()["transaction_id"]).exists()
            assert [future.result().json()["timed_out"] for future in waiting] == [False, False]
        health = requests.get(f"{site.url}/health", timeout=30).json()
        assert health["decisions_shed"] == 1


def test_an_answered_decision_is_stored_after_the_worker_is_killed_and_restarted(stack, tmp_path, postgres_redis_env):
    ada, headers = new_customer(), new_key()
    env = {**postgres_redis_env, "DECISION_BUDGET_MS": "5000"}
    with running_site(env, tmp_path / "site.log", worker_group="killed-" + secrets.token_hex(4)) as site:
        worker = site.processes["worker"]
        os.kill(worker.pid, signal.SIGSTOP)  # it reads nothing more: the answer comes from the web process
        answer = decide(site.url, headers, payment(ada))
        assert answer.status_code == 200 and answer.json()["timed_out"] is False
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        transaction_id = answer.json()["transaction_id"]
        assert Transaction.objects.filter(transaction_id=transaction_id).exists()  # written before it was sent
        assert not Verdict.objects.filter(transaction_id=transaction_id).exists()
        with open(tmp_path / "restarted-worker.log", "w") as output:
            restarted = subprocess.Popen([sys.executable, "manage.py", "consume_verdicts", "--group", site.worker_group],
                                         cwd=settings.BASE_DIR, env=site.env, stdout=output, stderr=subprocess.STDOUT)
            try:
                verdict = wait_until(lambda: Verdict.objects.filter(transaction_id=transaction_id).first(), 60,
                                     "the restarted worker to store the answered decision's verdict")
            finally:
                restarted.terminate()
                restarted.wait(30)
        assert verdict.outcome == answer.json()["decision"]
        assert Transaction.objects.get(transaction_id=transaction_id).verdict == verdict


@pytest.fixture
def behind_the_proxy(stack, tmp_path, postgres_redis_env, settings, free_tcp_port):
    """The site with HAProxy in front (python -m fraudsite.proxy's configuration), letting one
    decision in at a time: (site, proxy url)."""
    settings.PROXY_DECISIONS_IN_FLIGHT, settings.PROXY_QUEUE_MS, settings.PROXY_SERVER_TIMEOUT_MS = 1, 100, 10_000
    env = {**postgres_redis_env, "DECISION_BUDGET_MS": "8000"}
    with running_site(env, tmp_path / "site.log", worker_group="proxied-" + secrets.token_hex(4)) as site:
        with proxy.running(tmp_path / "proxy", f"127.0.0.1:{free_tcp_port}", f"127.0.0.1:{site.port}") as url:
            yield site, url


def test_the_proxy_sheds_what_the_web_tier_cannot_take_in_time_and_sends_nothing(behind_the_proxy):
    site, url = behind_the_proxy
    ada, headers = new_customer(), new_key()
    taskmanager = int(paths().pidfile("flink-taskmanager").read_text())
    with ThreadPoolExecutor(1) as pool:
        os.kill(taskmanager, signal.SIGSTOP)  # no verdicts: the first decision waits in the web tier
        try:
            waiting = pool.submit(decide, url, headers, payment(ada))
            wait_until(lambda: Transaction.objects.filter(customer=ada).count(), 30,
                       "the waiting request to be recorded", until=lambda count: count == 1)
            refused = decide(url, headers, payment(ada, transaction_id=unique("shed")))
        finally:
            os.kill(taskmanager, signal.SIGCONT)
        assert refused.status_code == 200
        assert refused.json() == {"decision": "review", "timed_out": False, "shed": True}
        assert refused.headers["X-Shed-By"] == "proxy"
        assert not Transaction.objects.filter(transaction_id__startswith="shed").filter(customer=ada).exists()
        assert waiting.result().json()["timed_out"] is False  # the one let in got its verdict
    # Pages pass, and a decision is let in again once the web tier has room.
    assert decide(url, headers, payment(ada)).json()["timed_out"] is False
