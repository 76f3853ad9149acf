"""Lists with expiry: what an entry may be, how a list's values are published, the CSV import, the
admin, and the detection job applying block and allow lists by record time (through the real stack)."""

import time
from datetime import datetime, timedelta, timezone

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from fraudsite.detection_lists import KINDS, MAX_LIST_MEMBERSHIPS
from fraudsite.topics import LIST_MEMBERSHIPS
from outbox.models import OutboxMessage
from outbox.publisher import publish_all_pending
from tests.support.kafka import unique
from tests.support.pipeline import HOUR_MS, LONDON_PARIS, Pipeline
from users.models import Customer
from watchlists.imports import InvalidImport, import_entries
from watchlists.models import ListEntry, WatchList
from watchlists.publishing import fraud_reason_codes, list_records

LONDON, PARIS = LONDON_PARIS

# A value of each kind, as a transaction sends it (kind: (transaction field, value)).
SAMPLES = {
    "card_token": ("card_token", "tok_4f9a1c"),
    "merchant": ("merchant_id", "m-0042"),
    "mcc": ("merchant_category_code", "7995"),
    "country": ("merchant_country", "KP"),
    "device": ("device_id", "dev-shared-1"),
    "ip": ("ip_address", "203.0.113.9"),
    "customer": ("user_id", None),  # the transaction's customer
    "bin": ("card_bin", "41111122"),
}


def now():
    return datetime.now(timezone.utc)


def a_list(kind, effect="block", weight=50, suppresses="", name=None):
    watch_list = WatchList(name=name or unique(kind.replace("_", "-"))[:24].lower().replace("_", "-"), kind=kind,
                           effect=effect, weight=weight, suppresses=suppresses)
    watch_list.full_clean()
    watch_list.save()
    return watch_list


def an_entry(watch_list, value, reason="Reported stolen", **times):
    entry = ListEntry(watch_list=watch_list, value=value, reason=reason, **times)
    entry.full_clean()
    entry.save()
    return entry


def queued(key):
    """The latest outbox record of a list-memberships key."""
    return OutboxMessage.objects.filter(topic=LIST_MEMBERSHIPS.role, key=key).latest("id").value


def test_every_kind_is_a_column_of_the_transaction_contract():
    from transactions import context

    assert {kind.column for kind in KINDS} == {*context.NAMES, "user_id"} - {"channel"}


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "value", "message"), [
    ("card_token", "4111 1111 1111 1111", "looks like a card number"),
    ("mcc", "79", "4 digits"),
    ("country", "XX", "ISO 3166-1"),
    ("ip", "203.0.113.999", "IPv4 or IPv6"),
    ("bin", "4111", "6 or 8 digits"),
    ("customer", "bad id!", "user id"),
    ("merchant", "a b", "merchant id"),
])
def test_a_value_not_of_the_lists_kind_is_refused_with_why(kind, value, message):
    with pytest.raises(ValidationError) as refused:
        an_entry(a_list(kind), value)
    assert message in " ".join(refused.value.message_dict["value"])
    assert not ListEntry.objects.exists() and not OutboxMessage.objects.filter(topic=LIST_MEMBERSHIPS.role).exists()


@pytest.mark.django_db
def test_an_entry_needs_a_reason_and_an_expiry_after_its_start():
    watch_list = a_list("device")
    with pytest.raises(ValidationError) as refused:
        an_entry(watch_list, "dev-1", reason="  ", starts_at=now(), expires_at=now() - timedelta(hours=1))
    assert set(refused.value.message_dict) == {"reason", "expires_at"}


@pytest.mark.django_db
@pytest.mark.parametrize(("effect", "suppresses", "error"), [
    ("allow", "velocity_exceeded,list:*", None),
    ("allow", "", None),
    ("allow", "no_such_reason", "Not a reason an allow list suppresses: no_such_reason"),
    ("block", "velocity_exceeded", "Only an allow list suppresses reasons."),
])
def test_an_allow_list_names_reasons_it_suppresses(effect, suppresses, error):
    watch_list = WatchList(name=unique("l")[:20].lower(), kind="merchant", effect=effect, suppresses=suppresses)
    if error is None:
        watch_list.full_clean()
    else:
        with pytest.raises(ValidationError) as refused:
            watch_list.full_clean()
        assert error in refused.value.message_dict["suppresses"][0]


@pytest.mark.django_db
def test_a_value_is_published_with_all_its_entries_and_a_tombstone_when_none_is_left():
    stolen, risky = a_list("card_token"), a_list("card_token", effect="allow", suppresses="velocity_exceeded")
    start = now().replace(microsecond=0)
    first = an_entry(stolen, "tok_1", starts_at=start, expires_at=start + timedelta(days=2))
    an_entry(risky, "tok_1", reason="VIP", starts_at=start)
    assert queued("card_token:tok_1") == {"memberships": [
        {"list": stolen.name, "effect": "block", "weight": 50.0, "suppresses": "*", "value": "tok_1",
         "starts_at": int(start.timestamp() * 1000), "ends_at": int((start + timedelta(days=2)).timestamp() * 1000)},
        {"list": risky.name, "effect": "allow", "weight": 50.0, "suppresses": "velocity_exceeded", "value": "tok_1",
         "starts_at": int(start.timestamp() * 1000), "ends_at": None},
    ]}
    stolen.weight = 80
    stolen.save()  # a list's change republishes its values
    assert [m["weight"] for m in queued("card_token:tok_1")["memberships"]] == [80.0, 50.0]
    first.delete()
    risky.delete()
    assert queued("card_token:tok_1") is None  # a tombstone: the job forgets the value
    assert ListEntry.history.filter(value="tok_1").count() == 4  # two added, two deleted: audited


@pytest.mark.django_db
def test_a_bin_prefix_is_published_under_its_first_six_digits():
    entry = an_entry(a_list("bin"), "41111122")
    assert entry.key == "bin:411111"
    assert queued("bin:411111")["memberships"][0]["value"] == "41111122"


@pytest.mark.django_db
def test_a_value_is_on_at_most_the_lists_the_job_checks():
    for _ in range(MAX_LIST_MEMBERSHIPS):
        an_entry(a_list("ip"), "198.51.100.1")
    with pytest.raises(ValidationError, match="checks at most"):
        an_entry(a_list("ip"), "198.51.100.1")
    an_entry(a_list("ip"), "198.51.100.1", starts_at=now() - timedelta(days=2), expires_at=now() - timedelta(days=1))


@pytest.mark.django_db
def test_a_csv_import_saves_every_line_or_none_and_names_each_wrong_line():
    watch_list = a_list("country")
    bad = "value,reason,expires_at\nKP,Sanctions,\nXX,Typo,\nKP,Twice,\nIR,,2020-01-01\n"
    with pytest.raises(InvalidImport) as refused:
        import_entries(watch_list, bad, user=None)
    assert sorted(refused.value.errors) == ["line 3", "line 4", "line 5"]
    assert "ISO 3166-1" in refused.value.errors["line 3"][0]
    assert refused.value.errors["line 4"] == ["value: Also on line 2."]
    assert not ListEntry.objects.exists() and not OutboxMessage.objects.filter(topic=LIST_MEMBERSHIPS.role).exists()

    assert import_entries(watch_list, "value,reason,expires_at\nKP,Sanctions,\nIR,Sanctions,2099-01-01T00:00:00Z\n",
                          user=None) == (2, 0)
    started = ListEntry.objects.get(value="KP").starts_at
    assert import_entries(watch_list, "value,reason\nKP,Sanctions (renewed)\n", user=None) == (0, 1)
    assert import_entries(watch_list, "value,reason\nKP,Sanctions (renewed)\n", user=None) == (0, 0)  # nothing new
    assert (ListEntry.objects.get(value="KP").reason, ListEntry.objects.get(value="KP").starts_at) == (
        "Sanctions (renewed)", started)  # an empty start keeps the entry's
    assert ListEntry.history.filter(value="KP").count() == 2
    assert queued("country:IR")["memberships"][0]["ends_at"] == 4070908800000


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "where"), [
    ("name,reason\nx,y\n", "header"), ("value,reason\n", "file"), ('value,reason\n"KP,x\n', None)])
def test_a_csv_without_the_columns_or_lines_is_refused(text, where):
    with pytest.raises(InvalidImport) as refused:
        import_entries(a_list("country"), text, user=None)
    assert where is None or where in refused.value.errors


@pytest.mark.django_db
def test_the_admin_imports_a_csv_and_shows_each_wrong_line(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    watch_list = a_list("merchant")
    url = reverse("admin:watchlists_watchlist_import", args=[watch_list.pk])
    page = admin_client.post(url, {"file": SimpleUploadedFile("l.csv", b"value,reason\nm 1,Fraud ring\n")})
    assert page.status_code == 200 and "line 2: value: A merchant id" in page.content.decode()
    page = admin_client.post(url, {"file": SimpleUploadedFile("l.csv", b"value,reason\nm-1,Fraud ring\n")}, follow=True)
    assert f"List {watch_list}: 1 added, 0 changed." in page.content.decode()
    assert ListEntry.objects.get().created_by.username == "admin"
    assert admin_client.get(reverse("admin:watchlists_watchlist_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:watchlists_listentry_changelist")).status_code == 200


@pytest.mark.django_db
def test_analytics_and_replays_know_each_block_lists_reason():
    blocked = a_list("device", name="shared-devices")
    a_list("device", effect="allow", name="lab-devices")
    assert fraud_reason_codes()[-1] == "list:shared-devices" and "list:lab-devices" not in fraud_reason_codes()
    an_entry(blocked, "dev-9", starts_at=now() - timedelta(days=3), expires_at=now() - timedelta(days=2))
    assert list(list_records(now() - timedelta(days=4))) == ["device:dev-9"]  # in force in the window
    assert list_records(now()) == {}


# --- the detection job applies them (real stack) ---------------------------------------------

@pytest.fixture
def pipeline(stack):
    pipeline = Pipeline()
    yield pipeline
    pipeline.close()


def published(pipeline):
    assert publish_all_pending()[1] == 0
    pipeline.wait_until_customers_read()
    pipeline.wait_until_lists_read()


def a_customer(**thresholds):
    return Customer.objects.create(user_id=unique("listed"), first_name="Lee", last_name="Listed", max_speed=1000,
                                   **thresholds)


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_each_kind_of_block_list_fires_its_reason_with_its_weight(pipeline):
    customer = a_customer()
    lists = {kind: a_list(kind, weight=10 + number) for number, kind in enumerate(SAMPLES)}
    for kind, (_, value) in SAMPLES.items():
        an_entry(lists[kind], value or customer.user_id)
    published(pipeline)

    context = {field: value for field, value in SAMPLES.values() if field != "user_id"}
    clean = pipeline.transaction(unique("other"), *LONDON, card_bin="41111199")  # another customer, BIN: 6 of 8 digits
    ids = {kind: pipeline.transaction(customer.user_id if kind == "customer" else unique("other"), *LONDON,
                                      **({} if kind == "customer" else {SAMPLES[kind][0]: SAMPLES[kind][1]}))
           for kind in SAMPLES}
    everything = pipeline.transaction(customer.user_id, *LONDON, offset_ms=HOUR_MS, **context)
    verdicts = dict(zip([*ids, "clean", "everything"], pipeline.verdicts([*ids.values(), clean, everything])))

    assert "list:" not in verdicts["clean"]["reasons"]
    for kind, watch_list in lists.items():
        verdict = verdicts[kind]
        assert watch_list.reason in verdict["reasons"].split(","), (kind, verdict["reasons"])
        if kind != "customer":  # (the others are unknown customers: no score)
            continue
        assert (verdict["status"], verdict["score"]) == ("FRAUD", 10 + list(SAMPLES).index("customer"))
    every = verdicts["everything"]
    assert sorted(every["reasons"].split(",")) == sorted(w.reason for w in lists.values())
    assert every["score"] == sum(w.weight for w in lists.values())
    assert (every["status"], every["outcome"], every["card_token"]) == ("FRAUD", "decline", "tok_4f9a1c")


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_an_allow_list_suppresses_the_reasons_it_names(pipeline):
    customer = a_customer(velocity_max_transactions=1, velocity_window_minutes=60)
    customer.max_speed = 10
    customer.save()
    stolen = a_list("card_token", weight=60)
    an_entry(stolen, "tok_stolen")
    an_entry(a_list("merchant", effect="allow", suppresses="list:*"), "m-test-shop", reason="Card testing sandbox")
    an_entry(a_list("device", effect="allow", suppresses="speed_above_limit"), "dev-vpn", reason="Corporate VPN")
    published(pipeline)
    user = customer.user_id

    ids = [pipeline.transaction(user, *LONDON, card_token="tok_stolen", merchant_id="m-test-shop"),
           pipeline.transaction(user, *PARIS, offset_ms=HOUR_MS, device_id="dev-vpn"),
           pipeline.transaction(user, *PARIS, offset_ms=3 * HOUR_MS, card_token="tok_stolen")]
    sandbox, vpn, stolen_card = pipeline.verdicts(ids)
    assert (sandbox["status"], sandbox["reasons"], sandbox["score"]) == ("VALID", f"suppressed:{stolen.reason}", 0.0)
    # The allow list names one reason: the other that fired still counts.
    assert (vpn["status"], vpn["reasons"]) == ("FRAUD", "velocity_exceeded,suppressed:speed_above_limit")
    assert (stolen_card["status"], stolen_card["reasons"]) == ("FRAUD", stolen.reason)


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_an_entry_applies_from_its_start_to_its_expiry_by_record_time_with_nobody_acting(pipeline):
    watch_list = a_list("ip", weight=25)
    starts_at = now() + timedelta(seconds=4)
    expires_at = starts_at + timedelta(seconds=4)
    an_entry(watch_list, "192.0.2.44", starts_at=starts_at, expires_at=expires_at)
    published(pipeline)
    assert time.time() < starts_at.timestamp(), "too slow: published after the entry started"

    def verdict_at(moment):
        time.sleep(max(0.0, (moment - now()).total_seconds()) + 0.2)
        (verdict,) = pipeline.verdicts([pipeline.transaction(unique("ip"), *LONDON, ip_address="192.0.2.44")])
        return verdict

    before = pipeline.verdicts([pipeline.transaction(unique("ip"), *LONDON, ip_address="192.0.2.44")])[0]
    during, after = verdict_at(starts_at), verdict_at(expires_at)
    assert before["received_at"] < int(starts_at.timestamp() * 1000), "too slow: judged after the entry started"
    assert watch_list.reason not in before["reasons"]
    assert int(starts_at.timestamp() * 1000) <= during["received_at"] < int(expires_at.timestamp() * 1000)
    assert watch_list.reason in during["reasons"]
    assert after["received_at"] >= int(expires_at.timestamp() * 1000)
    assert watch_list.reason not in after["reasons"]
