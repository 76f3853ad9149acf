from django.core.management.base import BaseCommand, CommandError

from users.models import Customer
from users.thresholds import OFF, THRESHOLD_FIELDS, InvalidThresholds, parse_threshold, set_thresholds

NOT_GIVEN = object()


def threshold_value(field):
    """The parser of one threshold's command-line value ('off' clears an optional signal)."""
    def parse(text):
        return parse_threshold(field, text)
    parse.__name__ = field
    return parse


class Command(BaseCommand):
    help = ("Change thresholds of several customers at once (all or none, validated, audited) and queue them "
            "for users-config. Example: set_thresholds user_1 user_2 --max-speed 800 --spend-factor off")

    def add_arguments(self, parser):
        parser.add_argument("user_ids", nargs="*", help="customers to change")
        parser.add_argument("--all", action="store_true", help="every customer")
        parser.add_argument("--reason", default="", help="recorded in the audit history")
        for field in THRESHOLD_FIELDS:
            parser.add_argument(f"--{field.replace('_', '-')}", dest=field, type=threshold_value(field), default=NOT_GIVEN,
                                help=f"new {Customer._meta.get_field(field).verbose_name}"
                                     + (f" ('{OFF}' turns it off)" if Customer._meta.get_field(field).null else ""))

    def handle(self, *args, user_ids, **options):
        changes = {field: options[field] for field in THRESHOLD_FIELDS if options[field] is not NOT_GIVEN}
        if not changes:
            raise CommandError("Name at least one threshold to change, e.g. --max-speed 800.")
        if bool(user_ids) == options["all"]:
            raise CommandError("Name the customers, or pass --all (not both).")
        customers = Customer.objects.all() if options["all"] else Customer.objects.filter(user_id__in=user_ids)
        missing = sorted(set(user_ids) - set(customers.values_list("user_id", flat=True)))
        if missing:
            raise CommandError(f"No such customer: {', '.join(missing)}. Nothing was changed.")
        try:
            count = set_thresholds(customers, changes, reason=options["reason"])
        except InvalidThresholds as error:
            raise CommandError(f"Nothing was changed: {error}") from None
        self.stdout.write(f"{count} customer(s) changed ({', '.join(changes)}); queued for users-config.")

