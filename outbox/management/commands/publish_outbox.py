from django.core.management.base import BaseCommand, CommandError

from fraudsite.missing_services import kafka_unreachable
from outbox.publisher import Publisher, publish_all_pending


class Command(BaseCommand):
    help = "Produce the outbox's pending records to Kafka, in order: continuously, or once with --once."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="send what is pending now, then exit")

    def handle(self, *args, **options):
        if options["once"]:
            sent, failed = publish_all_pending()
            self.stdout.write(f"outbox: {sent} sent, {failed} not sent")
            if failed:
                raise CommandError(kafka_unreachable(f"{failed} records not acknowledged; they stay pending"))
            return
        Publisher().run()  # until SIGINT or SIGTERM
