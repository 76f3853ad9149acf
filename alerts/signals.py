"""The alerts app's signals, and its receiver: every FRAUD verdict becomes an alert as it is
stored, joining its customer's open case. verdicts_stored is the one route: transactions.verdicts
sends it whichever way it stores (PostgreSQL's COPY or the ORM); a post_save would see neither."""

from django.db import connection
from django.dispatch import Signal, receiver

from transactions.models import Verdict
from transactions.signals import verdicts_stored

from .models import Alert, Case

# Sent by reviews.review_alerts inside the deciding transaction, with reviews=[AlertReview]:
# receivers' writes (webhook deliveries) commit or roll back with the decisions.
alert_reviewed = Signal()
# Sent by cases.decide_case inside its transaction, with case=the decided Case and alerts=[its
# alerts' transaction ids], after the alert_reviewed of its alerts.
case_decided = Signal()


def make_alerts(transaction_ids):
    """An alert for each FRAUD verdict of these transaction ids that has none, in its customer's
    open case if there is one. The worker calls this for every batch it stores: on PostgreSQL it is
    one statement (three ORM queries cost about half of the worker's CPU, bench/RESULTS.md, B5)."""
    if connection.vendor != "postgresql":
        return _make_alerts_generic(transaction_ids)
    with connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO {Alert._meta.db_table} (verdict_id, case_id)
            SELECT verdict.id, open_case.id
            FROM {Verdict._meta.db_table} verdict
            LEFT JOIN {Case._meta.db_table} open_case
                ON open_case.customer_id = verdict.customer_id AND open_case.status = %s
            WHERE verdict.transaction_id = ANY(%s) AND verdict.is_fraud
            ON CONFLICT DO NOTHING""", [Case.Status.OPEN, list(transaction_ids)])


def _make_alerts_generic(transaction_ids):
    """The same through the ORM, for other databases (SQLite in a zero-configuration local run)."""
    new = list(Verdict.objects.filter(transaction_id__in=transaction_ids, is_fraud=True, alert__isnull=True)
               .values_list("pk", "customer_id"))
    if not new:
        return
    open_cases = dict(Case.objects.filter(status=Case.Status.OPEN, customer_id__in={c for _, c in new})
                      .values_list("customer_id", "pk"))
    Alert.objects.bulk_create([Alert(verdict_id=pk, case_id=open_cases.get(customer_id)) for pk, customer_id in new],
                              ignore_conflicts=True)


@receiver(verdicts_stored)
def alerts_for_stored_verdicts(sender, rows, **kwargs):
    frauds = [row["transaction_id"] for row in rows if row["is_fraud"]]
    if frauds:
        make_alerts(frauds)
