from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from users.demo import OPERATOR_USERNAME, create_demo_customers, create_operator, operator_exists


class Command(BaseCommand):
    help = ("Create (or reset) the four demo customers, and the local operator login once (local use only: "
            "refused where ALLOWED_HOSTS serves beyond this machine).")

    def add_arguments(self, parser):
        parser.add_argument("--reset-password", action="store_true",
                            help="set a new operator password (or --password) even though the operator exists")
        parser.add_argument("--password", help="the operator's password when it is created or reset (default: random)")
        parser.add_argument("--allow-production", action="store_true",
                            help="run even though the site is served beyond this machine (never done automatically)")

    def handle(self, *args, password=None, reset_password=False, allow_production=False, **options):
        if not settings.LOCAL_ONLY and not allow_production:
            raise CommandError(f"ALLOWED_HOSTS ({', '.join(settings.ALLOWED_HOSTS)}) serves beyond this machine: demo "
                               "data is for local use. Pass --allow-production if you mean it.")
        for customer in create_demo_customers():
            self.stdout.write(f"customer {customer.user_id}: {customer.full_name}, {customer.max_speed:g} km/h")
        # Created once; later runs leave its password alone (it may have been changed in the admin).
        if reset_password or not operator_exists():
            password = create_operator(password)
            self.stdout.write(self.style.SUCCESS(f"local operator login: {OPERATOR_USERNAME} / {password}"))
        else:
            self.stdout.write(f"operator {OPERATOR_USERNAME!r} exists; password unchanged "
                              "(new one: make reset-password)")
