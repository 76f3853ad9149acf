import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cloud import terraform


class Command(BaseCommand):
    help = ("Write the Confluent Cloud settings from `terraform output -json` (read from stdin or "
            "--outputs) into the project's .env, keeping its other lines. Secrets are never printed.")

    def add_arguments(self, parser):
        parser.add_argument("--outputs", help="file with the output of `terraform output -json` (default: stdin)")
        parser.add_argument("--env-file", default=str(settings.BASE_DIR / ".env"), help="default: the project's .env")
        parser.add_argument("--isolation-level", choices=terraform.ISOLATION_LEVELS, default="read_committed",
                            help="the verdict worker's: read_committed (default): verdicts are stored once Flink "
                                 "checkpoints, up to a minute; read_uncommitted: within a second, see "
                                 "docs/confluent-cloud.md (the decision API's is DECISION_ISOLATION_LEVEL, read_uncommitted)")

    def handle(self, *args, outputs, env_file, isolation_level, **options):
        try:
            text = open(outputs).read() if outputs else sys.stdin.read()
        except OSError as error:
            raise CommandError(f"cannot read the Terraform outputs: {error}") from None
        try:
            names = terraform.write_env(env_file, text, isolation_level)
        except terraform.OutputsError as error:
            raise CommandError(f"{error}; {env_file} was not changed") from None
        self.stdout.write(f"wrote {len(names)} settings to {env_file}: {', '.join(names)}")
