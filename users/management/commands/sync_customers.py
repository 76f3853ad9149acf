from django.core.management.base import BaseCommand, CommandError

from users.publishing import sync_customers


class Command(BaseCommand):
    help = "Publish unsynced customers (and pending deletions) to users-config. Safe to repeat."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="republish every customer")

    def handle(self, *args, **options):
        sent, failed = sync_customers(everything=options["all"])
        self.stdout.write(f"users-config: {sent} published, {failed} failed")
        if failed:
            raise CommandError(f"{failed} could not be published; is Kafka reachable? Run again later.")
