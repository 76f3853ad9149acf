"""The probe of `make cloud-up` and `make cloud-smoke`: one transaction through the deployed
product (API -> card-transactions -> the Flink statement -> verdicts -> the worker -> the
database), timed until its verdict is stored."""

import time
import uuid
from datetime import datetime, timezone

# The probe's customer (created inactive-safe: a real customer's user_id is never this).
PROBE_USER_ID = "fraudsite-probe"


class ProbeFailed(Exception):
    """No verdict within the time allowed; the message says what was sent and how long it waited."""


def send_probe():
    """Submit one transaction for the probe customer (created and published first if missing);
    returns its transaction_id."""
    from django.db import transaction

    from transactions import submission
    from users.models import Customer
    from users.publishing import publish_customers

    with transaction.atomic():
        customer, created = Customer.objects.get_or_create(
            user_id=PROBE_USER_ID, defaults={"first_name": "Probe", "last_name": "fraudsite", "max_speed": 1000})
        if created:
            publish_customers(Customer.objects.filter(pk=customer.pk))
    cleaned, errors = submission.validate({"user_id": PROBE_USER_ID, "lat": 0.0, "lng": 0.0, "amount": 1.0,
                                           "transaction_id": f"probe-{uuid.uuid4().hex[:16]}",
                                           "timestamp": datetime.now(timezone.utc).isoformat()})
    if errors:
        raise ProbeFailed(f"the probe transaction was refused: {errors}")
    return submission.submit(cleaned).transaction_id


def stored_verdict(transaction_id):
    from transactions.models import Verdict

    return Verdict.objects.filter(transaction_id=transaction_id).values("status", "reasons").first()


def probe(timeout, send=send_probe, verdict_of=stored_verdict, clock=time.monotonic, sleep=time.sleep):
    """Send one transaction and wait for its stored verdict: (transaction_id, verdict, seconds).
    ProbeFailed when none is stored within timeout seconds."""
    began = clock()
    transaction_id = send()
    while True:
        verdict = verdict_of(transaction_id)
        if verdict is not None:
            return transaction_id, verdict, clock() - began
        if clock() - began >= timeout:
            raise ProbeFailed(f"no verdict for the probe transaction {transaction_id} within {timeout:.0f} s: is the "
                              f"detection statement running (terraform output flink_detection_statement), and the "
                              f"verdict worker?")
        sleep(0.2)
