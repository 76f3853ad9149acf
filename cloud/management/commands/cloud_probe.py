from django.core.management.base import BaseCommand, CommandError

from cloud.probe import ProbeFailed, probe


class Command(BaseCommand):
    help = ("Send one transaction through the running product and wait until its verdict is stored "
            "(what `make cloud-up` waits for before it says running, and what `make cloud-smoke` times).")

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the verdict (default 180)")

    def handle(self, *args, timeout, **options):
        if not 1 <= timeout <= 3600:
            raise CommandError("--timeout must be between 1 and 3600 seconds")
        try:
            transaction_id, verdict, seconds = probe(timeout)
        except ProbeFailed as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"probe transaction {transaction_id}: {verdict['status']} ({verdict['reasons']}) "
                          f"stored {seconds:.1f} s after it was sent")
