"""B5: the decision API's latency through the real stack (Kafka, the Flink job, the web server's
shared verdict consumer) at fixed request rates, with the budget at its default."""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

# Where the requests' customers transact: far enough apart that some pairs are impossible travel.
CITIES = [(51.5074, -0.1278), (48.8566, 2.3522), (40.7128, -74.0060), (52.52, 13.405), (41.9028, 12.4964)]


def bench_b5(site_url, user_ids, rates, seconds, say):
    """Per rate: an open loop (requests start on schedule, whether or not earlier ones finished),
    latency p50 / p99 / max as the client sees it, the share answered timed_out, and the client's
    own CPU share of the machine."""
    from django.conf import settings

    from api.models import ClientKey
    from bench.run import percentiles

    _, secret = ClientKey.objects.create_key(name=f"bench-{time.time():.0f}", scopes=["decisions"],
                                             rate_limit_per_minute=1_000_000)
    headers = {"Authorization": f"Api-Key {secret}"}
    local = threading.local()  # one HTTP session (kept-alive connection) per client thread

    def decide(user_id):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        lat, lng = random.choice(CITIES)
        started = time.perf_counter()
        response = local.session.post(f"{site_url}/api/v1/decisions", headers=headers, timeout=30,
                                json={"user_id": user_id, "amount": 20.0, "lat": lat, "lng": lng})
        elapsed_ms = (time.perf_counter() - started) * 1000
        return elapsed_ms, response.status_code, response.status_code == 200 and response.json()["timed_out"]

    steps = []
    for rate in rates:
        say(f"B5: {rate} decisions/s for {seconds} s (budget {settings.DECISION_BUDGET_MS} ms) ...")
        total = rate * seconds
        cpu_before, wall_before = time.process_time(), time.monotonic()
        with ThreadPoolExecutor(max_workers=min(rate, 256)) as pool:
            futures = []
            for i in range(total):
                delay = wall_before + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(decide, user_ids[i % len(user_ids)]))
            outcomes = [future.result() for future in futures]
        wall = time.monotonic() - wall_before
        answered = [latency for latency, status, _ in outcomes if status == 200]
        step = {
            "rate_per_second": rate, "seconds": seconds, "requests": total,
            "achieved_per_second": round(total / wall, 1), "answered": len(answered),
            "errors": {str(status): sum(1 for _, s, _ in outcomes if s == status)
                       for status in {s for _, s, _ in outcomes if s != 200}},
            "timed_out_share": round(sum(1 for *_, timed_out in outcomes if timed_out) / max(len(answered), 1), 4),
            "client_cpu_share": round((time.process_time() - cpu_before) / wall / 2, 3),  # of the 2 cores
            **percentiles(answered),
        }
        say(f"B5 {rate}/s: p50 {step['p50_ms']} / p99 {step['p99_ms']} ms, timed out {step['timed_out_share']:.1%}")
        steps.append(step)
    return {"budget_ms": settings.DECISION_BUDGET_MS, "steps": steps}
