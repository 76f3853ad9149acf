import json

from django.core.management.base import BaseCommand, CommandError

from localstack import owner as ownership
from localstack import stack
from localstack.messages import StackError


class Command(BaseCommand):
    help = "Start, stop or inspect the local Kafka + Flink stack running the detection job."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["up", "down", "status", "claim"],
                            help="claim: record --owner as the one instance running this stack directory, "
                                 "or say which instance already does and fail")
        parser.add_argument("--purge", action="store_true", help="with down: delete all topic data and logs")
        parser.add_argument("--owner", type=int, metavar="PID",
                            help="the instance (a pid, e.g. make run's shell) that claimed the stack: up records "
                                 "what it starts as that owner's, down stops only that")
        parser.add_argument("--as", dest="command", default="an instance",
                            help="with claim: what the owner is, for the message a second instance gets")
        parser.add_argument("--stop-hint", default="", help="with claim: how to stop the owner, for that message")

    def handle(self, *args, action, purge, owner, command, stop_hint, **options):
        try:
            if action == "claim":
                if owner is None:
                    raise CommandError("claim needs --owner PID")
                ownership.claim(owner, command, stop_hint or f"kill {owner}")
            elif action == "up":
                stack.up(owner=owner)
            elif action == "down":
                stack.down(purge=purge, owner=owner)
            else:
                self.stdout.write(json.dumps(stack.status(), indent=2))
        except StackError as error:
            raise CommandError(str(error)) from None

