from django.core.management.base import BaseCommand

from fraudsite.topics import USERS_CONFIG
from users.publishing import users_config_schema_text


class Command(BaseCommand):
    help = ("Write users/schemas/users-config.avsc from the signals' declarations (fraudsite/detection_signals.py): "
            "after adding a signal or changing its thresholds or weights.")

    def handle(self, *args, **options):
        USERS_CONFIG.value_schema_path.write_text(users_config_schema_text())
        self.stdout.write(f"Wrote {USERS_CONFIG.value_schema_path}")
