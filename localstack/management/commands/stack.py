import json

from django.core.management.base import BaseCommand, CommandError

from localstack import stack
from localstack.messages import StackError


class Command(BaseCommand):
    help = "Start, stop or inspect the local Kafka + Flink stack running the detection job."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["up", "down", "status"])
        parser.add_argument("--purge", action="store_true", help="with down: delete all topic data and logs")

    def handle(self, *args, action, purge, **options):
        try:
            if action == "up":
                stack.up()
            elif action == "down":
                stack.down(purge=purge)
            else:
                self.stdout.write(json.dumps(stack.status(), indent=2))
        except StackError as error:
            raise CommandError(str(error)) from None
