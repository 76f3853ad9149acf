import json

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from fraudsite.missing_services import database_problem
from localstack import owner as ownership
from localstack import stack
from localstack.messages import StackError
from transactions import health
from transactions.models import Verdict

# What `stack status` prints of /health's report.
VERDICT_FIGURES = ("status", "verdict_lag_seconds", "job_watermark_lag_seconds", "oldest_unjudged_transaction_seconds",
                   "lag_alert_seconds", "verdict_conflicts")


def database_state():
    """"ok", or the one line that says what is wrong with the database and what to do."""
    try:
        Verdict.objects.exists()
    except DatabaseError as error:
        return database_problem(error) or str(error).strip().splitlines()[0]
    return "ok"


def status():
    """The stack's processes, the database and how late verdicts are (the job's watermark, stored verdicts)."""
    verdicts = health.report()
    return {**stack.status(), "database": database_state(),
            "verdicts": {key: verdicts[key] for key in VERDICT_FIGURES}}


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
                self.stdout.write(json.dumps(status(), indent=2))
        except StackError as error:
            raise CommandError(str(error)) from None

