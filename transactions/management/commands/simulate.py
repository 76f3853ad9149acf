import sys
import time

from django.core.management.base import BaseCommand, CommandError

from fraudsite.kafka import broker_reachable
from fraudsite.missing_services import kafka_unreachable
from transactions import simulator
from users.models import Customer

BROKER_PROBE_SECONDS = 5


class Command(BaseCommand):
    help = "Produce realistic card traffic for many customers (random walks, some impossible jumps)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=100,
                            help="simulated customers sim_0001.. (created, 900 km/h limit, if missing)")
        parser.add_argument("--count", type=int, default=1000, help="transactions to send")
        parser.add_argument("--rate", type=float, help="transactions per second (default: as fast as possible)")
        parser.add_argument("--fraud-share", type=float, default=0.05, help="share of impossible jumps (0-1)")
        parser.add_argument("--seed", type=int)

    def handle(self, *args, customers, count, rate, fraud_share, seed, **options):
        if not 0 <= fraud_share <= 1 or customers < 1 or count < 1 or (rate is not None and rate <= 0):
            raise CommandError("--customers and --count must be positive, --rate positive, --fraud-share in [0, 1]")
        # Asked first: a producer keeps its records for minutes waiting for a broker that is not there.
        if not broker_reachable(timeout=BROKER_PROBE_SECONDS):
            raise CommandError(kafka_unreachable(f"no answer within {BROKER_PROBE_SECONDS} s; nothing was sent"))
        user_ids = [f"sim_{i:04d}" for i in range(1, customers + 1)]
        existing = set(Customer.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
        for user_id in user_ids:
            if user_id not in existing:  # saved one by one so each is published to users-config
                Customer.objects.create(user_id=user_id, first_name="Sim", last_name=user_id[4:], max_speed=900)
        if len(existing) < customers:
            time.sleep(1.5)  # let the detection job read the new customers' limits
        started = time.monotonic()
        delivered = simulator.run(user_ids, count, rate, fraud_share, self._progress, seed)
        elapsed = time.monotonic() - started
        sys.stderr.write("\n")
        self.stdout.write(f"sent {delivered} of {count} transactions in {elapsed:.1f} s ({delivered / elapsed:.0f}/s)")
        if delivered < count:
            raise CommandError(kafka_unreachable(f"{count - delivered} transactions not acknowledged"))

    def _progress(self, done, total):
        if done == total or done % max(total // 100, 1) == 0:
            filled = int(30 * done / total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
            sys.stderr.flush()
