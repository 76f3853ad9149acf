from django.core.management.base import BaseCommand

from webhooks.deliveries import Deliverer, deliver_all_due


class Command(BaseCommand):
    help = "Send due webhook deliveries, in order per endpoint and customer: continuously, or once with --once."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="send what is due now, then exit")

    def handle(self, *args, **options):
        if options["once"]:
            delivered, failed = deliver_all_due()
            self.stdout.write(f"webhooks: {delivered} delivered, {failed} failed (retried later)")
            return
        Deliverer().run()  # until SIGINT or SIGTERM
