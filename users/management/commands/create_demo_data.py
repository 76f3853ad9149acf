from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from users.demo import OPERATOR_USERNAME, create_demo_customers, create_operator


class Command(BaseCommand):
    help = "Create the four demo customers and a local operator login (local use only)."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="operator password (default: a new random one)")
        parser.add_argument("--allow-production", action="store_true",
                            help="run even though DEBUG is off (never done automatically)")

    def handle(self, *args, password=None, allow_production=False, **options):
        if not settings.DEBUG and not allow_production:
            raise CommandError("DEBUG is off: demo data is for local use. Pass --allow-production if you mean it.")
        for customer in create_demo_customers():
            self.stdout.write(f"customer {customer.user_id}: {customer.full_name}, {customer.max_speed:g} km/h")
        password = create_operator(password)
        self.stdout.write(self.style.SUCCESS(f"local operator login: {OPERATOR_USERNAME} / {password}"))
