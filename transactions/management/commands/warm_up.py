import sys

from confluent_kafka import KafkaException
from django.core.management.base import BaseCommand, CommandError

from transactions import simulator


class Command(BaseCommand):
    help = ("Send warm-up transactions to every partition of card-transactions, for a Flink job whose "
            "watermarks wait for a number of records per partition (Confluent Cloud's default strategy). "
            "The verdict worker does not store their verdicts.")

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=250, help="records per partition (default 250)")

    def handle(self, *args, records, **options):
        if records < 1:
            raise CommandError("--records must be positive")
        try:
            delivered = simulator.warm_up(records, self._progress)
        except (KafkaException, ValueError) as error:
            raise CommandError(f"Kafka: {error}") from None
        sys.stderr.write("\n")
        self.stdout.write(f"sent {delivered} warm-up records (customer {simulator.WARM_UP_USER_ID})")

    def _progress(self, done, total):
        if done == total or done % max(total // 100, 1) == 0:
            sys.stderr.write(f"\r{done}/{total}")
            sys.stderr.flush()
