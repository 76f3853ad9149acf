"""The traffic simulator: plausible walks, impossible jumps, and real verdicts for them."""

import pytest
from django.core.management import call_command

from tests.support.kafka import unique
from tests.support.pipeline import Pipeline, great_circle_km
from transactions import simulator
from users.models import Customer
from outbox.publisher import publish_all_pending


@pytest.mark.parametrize("distance", [1.0, 350.0, 9000.0])
def test_moved_goes_the_requested_distance(distance):
    lat, lng = simulator.moved(51.5, -0.12, distance, bearing=1.0)
    assert great_circle_km(51.5, -0.12, lat, lng) == pytest.approx(distance, rel=1e-6)


def test_every_transaction_jumps_when_the_fraud_share_is_one():
    walk = simulator.Simulator(["a"], fraud_share=1.0, seed=7)
    position = (walk.walkers[0].lat, walk.walkers[0].lng)
    for step in range(5):
        _, record = walk.next_transaction(now_ms=walk.walkers[0].last_ms + 1000)
        assert great_circle_km(*position, record["lat"], record["lng"]) >= 2000
        position = (record["lat"], record["lng"])


def test_a_customer_of_several_cards_pays_with_each_and_the_same_ones_in_every_run():
    walk = simulator.Simulator(["a", "b"], seed=7, merchants=20_000, cards_per_customer=5)
    cards = {}
    for _ in range(400):
        user_id, record = walk.next_transaction()
        cards.setdefault(user_id, set()).add(record["card_token"])
    assert cards == {user_id: {simulator.card_and_device(user_id, n)[0] for n in range(5)} for user_id in "ab"}
    assert simulator.card_and_device("a", 0) == simulator.card_and_device("a")  # the first card is the one card
    one_card = simulator.Simulator(["a"], seed=7)
    assert {one_card.next_transaction()[1]["card_token"] for _ in range(20)} == {simulator.card_and_device("a")[0]}


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_simulated_traffic_gets_verdicts_with_frauds_for_the_jumps(stack, django_capture_on_commit_callbacks):
    user_ids = [unique("sim") for _ in range(3)]
    for user_id in user_ids:
        Customer.objects.create(user_id=user_id, first_name="Sim", last_name="T", max_speed=900)
    assert publish_all_pending() == (3, 0)
    pipeline = Pipeline()
    try:
        pipeline.wait_until_customers_read()  # the job has read the customers' limits
        sent = []
        assert simulator.run(user_ids, 30, fraud_share=1.0, seed=3, on_send=lambda r: sent.append(r["transaction_id"])) == 30
        verdicts = pipeline.verdicts(sent)
    finally:
        pipeline.close()
    # Every transaction after a customer's first is a jump of thousands of km within moments.
    statuses = [v["status"] for v in verdicts if v["reason"] != "no_history"]
    assert len(statuses) == 27 and set(statuses) == {"FRAUD"}


@pytest.mark.django_db
def test_the_command_refuses_bad_options():
    with pytest.raises(Exception, match="fraud-share"):
        call_command("simulate", "--fraud-share", "2")


@pytest.mark.django_db
def test_no_broker_is_said_at_once_and_changes_nothing(settings):
    from django.core.management.base import CommandError

    from tests.support.checkout import free_ports

    (closed,) = free_ports(1)
    settings.KAFKA_BOOTSTRAP_SERVERS = f"localhost:{closed}"
    with pytest.raises(CommandError, match="make stack-up") as refusal:
        call_command("simulate", "--customers", "2", "--count", "1")
    assert f"localhost:{closed}" in str(refusal.value) and "nothing was sent" in str(refusal.value)
    assert not Customer.objects.filter(user_id__startswith="sim_").exists()
