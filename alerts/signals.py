"""The alerts app's signals, and its receiver: every FRAUD verdict becomes an alert as it is
stored, joining its customer's open case. verdicts_stored is the one route: transactions.verdicts
sends it whichever way it stores (PostgreSQL's COPY or the ORM); a post_save would see neither."""

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


def make_alerts(verdicts):
    """Alert rows for the FRAUD verdicts among verdicts (a Verdict queryset) that have none."""
    new = list(verdicts.filter(is_fraud=True, alert__isnull=True).values_list("pk", "customer_id"))
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
        make_alerts(Verdict.objects.filter(transaction_id__in=frauds))
