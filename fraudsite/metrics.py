"""Prometheus metrics (prometheus-client), served at /metrics to the addresses in
METRICS_ALLOWED_IPS (loopback by default: a scraper runs beside the site, not the internet).

With several web processes, each writes its samples to files in PROMETHEUS_MULTIPROC_DIR (set by
`make run` before any process starts) and /metrics adds them up; without it (one process, tests)
the process's own registry is served. The worker's lag and the outbox's age are read from the
health report when scraped (as are the day's verdict conflicts)."""

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY

DECISIONS = Counter("fraudsite_decisions_total", "Decisions answered, by outcome and by how they were reached "
                    "(verdict: the job's; timed_out: the fallback after the budget; shed: the fallback at once, "
                    "nothing sent).", ["outcome", "how"])
DECISION_ERRORS = Counter("fraudsite_decision_errors_total", "Decision requests answered with an error status.",
                          ["status"])
DECISION_SECONDS = Histogram("fraudsite_decision_seconds", "Time from a decision request's arrival to its answer.",
                             buckets=[0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5])
WAITING = Gauge("fraudsite_decisions_waiting", "Decision requests in progress (the verdict waiter's backlog and "
                "the requests before it), per web process summed.", multiprocess_mode="livesum")


def multiprocess_mode():
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def shed_total():
    """Decisions shed since the web processes started, all processes together."""
    registry = _registry()
    return int(sum(sample.value for metric in registry.collect() if metric.name == "fraudsite_decisions"
                   for sample in metric.samples
                   if sample.name == "fraudsite_decisions_total" and sample.labels.get("how") == "shed"))


def _registry():
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


class HealthCollector:
    """The verdict lag, the oldest transaction without a verdict, the outbox's oldest unsent
    change and the day's verdict conflicts, from the (cached) health report."""

    def __init__(self, report):
        self._report = report

    def collect(self):
        report = self._report()
        for name, key, text in [
            ("fraudsite_verdict_lag_seconds", "verdict_lag_seconds",
             "How late verdicts are: the job's watermark or the oldest unjudged transaction, the larger."),
            ("fraudsite_oldest_unjudged_transaction_seconds", "oldest_unjudged_transaction_seconds",
             "Age of the oldest transaction submitted here without a stored verdict (the worker's lag)."),
            ("fraudsite_outbox_oldest_pending_seconds", "oldest_unpublished_change_seconds",
             "Age of the oldest customer change not yet published to users-config."),
            ("fraudsite_verdict_conflicts", "verdict_conflicts",
             "Redelivered verdicts that differ from the stored one, recorded in the last day (never applied)."),
        ]:
            metric = GaugeMetricFamily(name, text)
            metric.add_metric([], report.get(key) or 0.0)
            yield metric
        up = GaugeMetricFamily("fraudsite_part_up", "Whether each part answers (1) or not (0).", labels=["part"])
        for part, answering in report["checks"].items():
            if answering is not None:
                up.add_metric([part], 1.0 if answering else 0.0)
        yield up


def exposition(report):
    """The metrics text for a scrape; report() gives the health report."""
    registry = _registry()
    scrape = CollectorRegistry()
    for collector in [_Forward(registry), HealthCollector(report)]:
        scrape.register(collector)
    return generate_latest(scrape)


class _Forward:
    def __init__(self, registry):
        self._registry = registry

    def collect(self):
        return self._registry.collect()
