"""Alert review: alerts to review, users with permissions, the review API."""

import json
from datetime import timedelta

from django.contrib.auth.models import Permission
from django.urls import reverse

from alerts.models import Alert
from tests.support.kafka import unique
from tests.support.records import MOMENT, as_stored
from transactions.models import Verdict


def verdict(transaction_id=None, status="FRAUD", reasons="speed_above_limit,velocity_exceeded", user_id="user_1",
            minutes=0, review_status="", reviewed_at=None, **fields):
    """A stored verdict; a FRAUD one with its alert, in the review state given."""
    values = dict(
        transaction_id=transaction_id or unique("tx"), user_id=user_id, timestamp=MOMENT + timedelta(minutes=minutes),
        received_at=MOMENT + timedelta(minutes=minutes), lat=48.85, lng=2.35, amount=20, first_name="Lena",
        last_name="Whitaker", max_speed=10, speed_kmh=343.5, is_fraud=status == "FRAUD", status=status,
        reason=reasons.split(",")[0], reasons=reasons, kafka_topic="t", kafka_partition=0, kafka_offset=1)
    return as_stored(Verdict.objects.create(**{**values, **fields}), review_status=review_status,
                     reviewed_at=reviewed_at)


def alert_of(verdict):
    """The verdict's alert as stored now (its review state, holder and case)."""
    return Alert.objects.get(pk=verdict.pk)


def user_with(django_user_model, *codenames, staff=False):
    user = django_user_model.objects.create_user(username=unique("op"), password="pw", is_staff=staff)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def post_review(client, transaction_id, body):
    return client.post(reverse("api-review", args=[transaction_id]), data=body if isinstance(body, str)
                       else json.dumps(body), content_type="application/json")
