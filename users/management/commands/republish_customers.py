from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from users.models import Customer
from users.publishing import publish_customers


class Command(BaseCommand):
    help = ("Queue customers' current state for users-config again (every customer, or those named); "
            "the outbox publisher sends them. Safe to repeat: users-config keeps the latest per customer.")

    def add_arguments(self, parser):
        parser.add_argument("user_ids", nargs="*", help="only these customers (default: all)")

    def handle(self, *args, user_ids, **options):
        customers = Customer.objects.filter(user_id__in=user_ids) if user_ids else Customer.objects.all()
        missing = sorted(set(user_ids) - set(customers.values_list("user_id", flat=True)))
        if missing:
            raise CommandError(f"No such customer: {', '.join(missing)}. Nothing was queued.")
        with transaction.atomic():
            publish_customers(customers)
        self.stdout.write(f"{customers.count()} customer(s) queued for users-config "
                          "(sent by 'manage.py publish_outbox'; --once sends them now).")
