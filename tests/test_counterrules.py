"""Counter rules: what a rule may be, how rules reach every customer's record, drafting and
approving a change of rules as a proposal, and the detection job counting per card, device and
merchant by record time (through the real stack) for the issue's four example rules."""

import pytest
from django.urls import reverse

from counterrules import services
from counterrules.examples import EXAMPLE_RULES
from counterrules.models import CounterRule
from fraudsite.detection_counters import MAX_COUNTER_RULES, parse_counter_windows
from fraudsite.topics import USERS_CONFIG
from outbox.models import OutboxMessage
from outbox.publisher import publish_all_pending
from proposals import services as proposals
from proposals.models import Proposal
from tests.support.kafka import unique
from tests.support.pipeline import LONDON_PARIS, Pipeline
from users.models import Customer
from users.publishing import publish_customers
from users.thresholds import InvalidThresholds
from watchlists.models import ListEntry, WatchList

LONDON, PARIS = LONDON_PARIS

def rule(**fields):
    return {"key": "card", "window": "24h", "aggregate": "customers", "comparison": ">", "threshold": 1,
            "weight": 40, **fields}


def test_counter_windows_name_a_key_and_a_window_from_the_menus():
    pairs = parse_counter_windows("card:1h, merchant:10min,card:1h")
    assert [pair.name for pair in pairs] == ["card_1h", "merchant_10min"]
    assert "customers" not in [a.name for a in parse_counter_windows("customer:1h")[0].aggregates]
    with pytest.raises(Exception, match="'card:2h' is not key:window"):
        parse_counter_windows("card:2h")


@pytest.mark.django_db
@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"window": "1h", "key": "merchant"}, "window", "does not count merchant:1h:customers"),
    ({"aggregate": "median"}, "aggregate", "not a valid choice"),
    ({"comparison": "<"}, "comparison", "not a valid choice"),
    ({"threshold": -1}, "threshold", "At least 0."),
])
def test_a_rule_the_job_cannot_check_is_refused_with_why(fields, field, message):
    with pytest.raises(services.InvalidRules) as refused:
        services.rules_with({"r1": rule(**fields)})
    assert message in " ".join(refused.value.errors["r1"][field])
    assert not CounterRule.objects.exists()


@pytest.mark.django_db
def test_at_most_the_rules_the_job_checks_are_active():
    changes = {f"r{number}": rule() for number in range(MAX_COUNTER_RULES + 1)}
    with pytest.raises(services.InvalidRules) as refused:
        services.rules_with(changes)
    assert f"at most {MAX_COUNTER_RULES}" in refused.value.errors["*"]["active"][0]
    changes["r0"]["active"] = False  # a retired rule does not count
    assert len(services.rules_with(changes)) == MAX_COUNTER_RULES + 1


@pytest.mark.django_db
def test_every_customers_record_carries_the_active_rules():
    customer = Customer.objects.create(user_id=unique("ruled"), first_name="R", last_name="Ruled", max_speed=900)
    services.apply_changes({"card-shared": EXAMPLE_RULES["card-shared"], "old": rule(active=False)},
                           user=None, reason="t")
    publish_customers([customer])
    record = OutboxMessage.objects.filter(topic=USERS_CONFIG.role, key=customer.user_id).latest("id").value
    assert record["counter_rules"] == [{"name": "card-shared", "counter": "card:24h:customers", "comparison": ">",
                                        "threshold": 1.0, "weight": 40.0}]
    assert CounterRule.objects.get(name="card-shared").history.get().history_change_reason == "t"


@pytest.mark.django_db
def test_a_rule_change_is_a_proposal_published_only_when_someone_else_approves_it(django_user_model, monkeypatch):
    maker = django_user_model.objects.create_superuser("maker", password="x" * 12)
    checker = django_user_model.objects.create_superuser("checker", password="y" * 12)
    customer = Customer.objects.create(user_id=unique("ruled"), first_name="R", last_name="Ruled", max_speed=900)
    monkeypatch.setattr(proposals, "replay_unavailable", lambda: None)
    with pytest.raises(InvalidThresholds) as refused:
        proposals.create_rule_proposal(author=maker, reason="shared cards", rule_changes={"x": rule(comparison="<")})
    assert "comparison" in refused.value.errors["x"] and not Proposal.objects.exists()

    proposal = proposals.create_rule_proposal(author=maker, reason="shared cards",
                                              rule_changes={"card-shared": EXAMPLE_RULES["card-shared"]})
    assert str(proposal) == f"Proposal {proposal.pk}: rules card-shared (Draft)"
    assert not CounterRule.objects.exists()  # a draft changes nothing
    changes, rules = proposals.replay_input(proposal)  # what its replay judges: every customer, the candidate rules
    assert changes == {customer.user_id: {}} and [r["name"] for r in rules] == ["card-shared"]

    # As the replay process records a finished replay (proposals/replay.py: run_claimed).
    Proposal.objects.filter(pk=proposal.pk).update(status=Proposal.Status.REPLAYED,
                                                   replay_fingerprint=proposals.replay_fingerprint(proposal))
    with pytest.raises(proposals.ProposalRefused, match="someone other than its author"):
        proposals.approve(proposal, user=maker)
    proposals.approve(proposal, user=checker)
    rule_row = CounterRule.objects.get(name="card-shared")
    assert (rule_row.threshold, rule_row.history.get().history_user) == (1.0, checker)
    record = OutboxMessage.objects.filter(topic=USERS_CONFIG.role, key=customer.user_id).latest("id").value
    assert [r["name"] for r in record["counter_rules"]] == ["card-shared"]


@pytest.mark.django_db
def test_a_rule_proposal_is_refused_once_the_rules_changed_after_its_replay(django_user_model, monkeypatch):
    maker = django_user_model.objects.create_superuser("maker", password="x" * 12)
    checker = django_user_model.objects.create_superuser("checker", password="y" * 12)
    monkeypatch.setattr(proposals, "replay_unavailable", lambda: None)
    proposal = proposals.create_rule_proposal(author=maker, reason="r", rule_changes={"a": rule()})
    Proposal.objects.filter(pk=proposal.pk).update(status=Proposal.Status.REPLAYED,
                                                   replay_fingerprint=proposals.replay_fingerprint(proposal))
    services.apply_changes({"b": rule()}, user=maker, reason="meanwhile")
    with pytest.raises(proposals.ProposalRefused, match="rules have changed since the replay"):
        proposals.approve(proposal, user=checker)
    assert not CounterRule.objects.filter(name="a").exists()


@pytest.mark.django_db
def test_the_admin_drafts_a_rule_proposal_and_shows_the_rules(admin_client, monkeypatch):
    from proposals import admin as proposals_admin

    monkeypatch.setattr(proposals, "replay_unavailable", lambda: None)
    monkeypatch.setattr(proposals_admin, "replay_unavailable", lambda: None)
    url = reverse("admin:proposals_proposal_rule")
    form = {"name": "merchant-burst", **EXAMPLE_RULES["merchant-burst"], "active": "on", "description": "card testing",
            "reason": "card testing at small merchants", "replay_days": 7}
    refused = admin_client.post(url, {**form, "threshold": "lots"})
    assert refused.status_code == 200 and "Enter a number." in refused.content.decode()
    response = admin_client.post(url, form)
    proposal = Proposal.objects.get()
    assert response.status_code == 302 and proposal.rule_changes["merchant-burst"]["threshold"] == 50
    assert proposal.replay_days == 7
    page = admin_client.get(reverse("admin:proposals_proposal_change", args=[proposal.pk])).content.decode()
    assert "transactions per merchant in 10min more than 50" in page
    services.apply_changes({"merchant-burst": EXAMPLE_RULES["merchant-burst"]}, user=None, reason="t")
    listing = admin_client.get(reverse("admin:counterrules_counterrule_changelist")).content.decode()
    assert "transactions per merchant in 10min more than 50" in listing and "Propose a rule change" in listing


# --- the detection job counts (real stack) ----------------------------------------------------

@pytest.fixture
def pipeline(stack):
    pipeline = Pipeline()
    yield pipeline
    pipeline.close()


def customers(count):
    made = [Customer(user_id=unique("counted"), first_name="C", last_name="Counted", max_speed=100_000)
            for _ in range(count)]
    Customer.objects.bulk_create(made)
    return [customer.user_id for customer in made]


def reasons(verdict):
    return verdict["reasons"].split(",")


def fires_from(verdicts, reason, first):
    """The rule fires on verdicts[first] and every one after it, and on none before it but those of
    the same millisecond of record time: a window's rows of one millisecond count each other."""
    flags = [reason in reasons(verdict) for verdict in verdicts]
    assert flags[first], (reason, flags)
    start = flags.index(True)
    assert all(flags[start:]), (reason, flags)
    assert all(v["received_at"] == verdicts[first]["received_at"] for v in verdicts[start:first]), (reason, flags)


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_the_four_example_rules_fire_on_their_counts_by_record_time(pipeline):
    services.apply_changes(EXAMPLE_RULES, user=None, reason="the issue's examples")
    allowed = WatchList.objects.create(name=unique("allow")[:24].lower(), kind="device", effect="allow",
                                       suppresses="rule:merchant-burst")
    ListEntry.objects.create(watch_list=allowed, value="dev-allowed", reason="the merchant's own terminal")
    users = customers(22)
    publish_customers(Customer.objects.filter(user_id__in=users))  # (bulk_create publishes nothing)
    assert publish_all_pending()[1] == 0
    pipeline.wait_until_customers_read()
    pipeline.wait_until_lists_read()
    card, shared, device, merchant = unique("tok"), unique("tok"), unique("dev"), unique("m")

    # A card used by a second customer within 24 h.
    first_use, second_use = (pipeline.transaction(user, *LONDON, card_token=shared) for user in users[:2])
    # More than 3 countries per card in 1 h: the fourth country fires.
    countries = [pipeline.transaction(users[2], *LONDON, card_token=card, merchant_country=country)
                 for country in ("GB", "FR", "DE", "IT")]
    # More than 20 customers per device in 24 h: the 21st fires.
    on_device = [pipeline.transaction(user, *LONDON, device_id=device) for user in users[:21]]
    # More than 50 transactions per merchant in 10 min: the 51st fires; an allow list suppresses it.
    at_merchant = [pipeline.transaction(users[number % 22], *LONDON, merchant_id=merchant) for number in range(51)]
    suppressed = pipeline.transaction(users[21], *LONDON, merchant_id=merchant, device_id="dev-allowed")
    no_context = pipeline.transaction(users[21], *LONDON)  # an older producer's: no key, no counter

    verdicts = dict(zip([first_use, second_use, *countries, *on_device, *at_merchant, suppressed, no_context],
                        pipeline.verdicts([first_use, second_use, *countries, *on_device, *at_merchant, suppressed,
                                           no_context], timeout=60)))
    assert "rule:card-shared" not in reasons(verdicts[first_use])
    assert "rule:card-shared" in reasons(verdicts[second_use])
    fires_from([verdicts[t] for t in countries], "rule:card-countries", 3)
    fires_from([verdicts[t] for t in on_device], "rule:device-farm", 20)
    fires_from([verdicts[t] for t in at_merchant], "rule:merchant-burst", 50)
    burst = verdicts[at_merchant[-1]]
    assert burst["status"] == "FRAUD" and burst["score"] >= 20
    assert "suppressed:rule:merchant-burst" in reasons(verdicts[suppressed])
    assert "rule:merchant-burst" not in reasons(verdicts[suppressed])
    assert not any(reason.startswith("rule:") for reason in reasons(verdicts[no_context]))
