"""/metrics: Prometheus' scrape, for the monitoring system beside the site only."""

import pytest
import requests

from tests.test_decisions import customer, decide, key, payment
from tests.support.pipeline import LONDON_PARIS


@pytest.mark.django_db
def test_metrics_are_refused_to_addresses_outside_the_allowed_list(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_a_decision_shows_in_the_counters_and_the_latency_histogram(live_site):
    answer = decide(live_site, key(), payment(customer().user_id, LONDON_PARIS[0]))
    assert answer.status_code == 200
    text = requests.get(f"{live_site}/metrics", timeout=30).text
    how = "timed_out" if answer.json()["timed_out"] else "verdict"
    assert f'fraudsite_decisions_total{{how="{how}",outcome="{answer.json()["decision"]}"}} 1.0' in text
    assert "fraudsite_decision_seconds_count 1.0" in text
    assert "fraudsite_verdict_lag_seconds" in text and 'fraudsite_part_up{part="worker"} 1.0' in text
