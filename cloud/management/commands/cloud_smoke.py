import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cloud.probe import ProbeFailed, probe
from cloud.smoke import check_tables
from fraudsite.flink_client import CloudStatements, unavailable


class Command(BaseCommand):
    help = ("On a real Confluent Cloud deployment (scripts/cloud-smoke.sh runs it between apply and destroy): "
            "SHOW CREATE TABLE of each inferred table against what the statements expect, then one transaction "
            "to its verdict, timed (with a verdict worker and the event clock started for it).")

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the verdict")

    def handle(self, *args, timeout, **options):
        if not settings.CONFLUENT_FLINK_REST_ENDPOINT or unavailable():
            raise CommandError(f"not configured for Confluent Cloud: {unavailable() or 'CONFLUENT_FLINK_REST_ENDPOINT is not set'}")
        differing = check_tables(CloudStatements.from_settings(), self.stdout.write)
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        helpers = [subprocess.Popen([*manage, "consume_verdicts"])]
        if not settings.CLOUD_IDLE_PARTITION_FORWARDING:
            helpers.append(subprocess.Popen([*manage, "event_clock"]))
        try:
            transaction_id, verdict, seconds = probe(timeout)
        except ProbeFailed as error:
            raise CommandError(str(error)) from None
        finally:
            for helper in helpers:
                helper.terminate()
                helper.wait(30)
        clock = "no event clock (CLOUD_IDLE_PARTITION_FORWARDING)" if settings.CLOUD_IDLE_PARTITION_FORWARDING else \
            f"event clock every {settings.EVENT_TIME_TICK_MS} ms"
        self.stdout.write(f"probe transaction {transaction_id}: {verdict['status']} ({verdict['reasons']}), "
                          f"verdict stored {seconds:.1f} s after it was sent ({clock})")
        if differing:
            raise CommandError(f"{len(differing)} table(s) differ from what the statements expect: {', '.join(differing)}")
