from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from transactions.clock import EXIT_ANOTHER_CLOCK, AnotherClock, Clock


class Command(BaseCommand):
    help = ("Tick every partition of card-transactions so that the detection job's event time follows the "
            "broker's clock while no card is used (one per deployment: a second one stops with exit status "
            f"{EXIT_ANOTHER_CLOCK}; `stack up` starts it locally, `cloud-up` beside Confluent Cloud).")

    def add_arguments(self, parser):
        parser.add_argument("--interval-ms", type=int, default=settings.EVENT_TIME_TICK_MS,
                            help=f"milliseconds between ticks (default EVENT_TIME_TICK_MS, {settings.EVENT_TIME_TICK_MS})")

    def handle(self, *args, interval_ms, **options):
        if not 1 <= interval_ms <= 60_000:
            raise CommandError("--interval-ms must be between 1 and 60000")
        try:
            Clock(interval_ms=interval_ms).run()  # until SIGINT or SIGTERM
        except AnotherClock as error:
            raise CommandError(str(error), returncode=EXIT_ANOTHER_CLOCK) from None
