from django.core.management.base import BaseCommand

from django.conf import settings

from transactions.worker import Options, Worker


class Command(BaseCommand):
    help = "Store every verdict from card-transactions-enriched and push it to operators (run several in one group)."

    def add_arguments(self, parser):
        parser.add_argument("--group", default=settings.VERDICT_WORKER_GROUP,
                            help=f"consumer group (default VERDICT_WORKER_GROUP, {settings.VERDICT_WORKER_GROUP})")
        parser.add_argument("--from-beginning", action="store_true", help="re-read the topic from its start")
        parser.add_argument("--max-messages", type=int, help="stop after this many records")
        parser.add_argument("--idle-timeout", type=float, help="stop after this many seconds without a record")
        parser.add_argument("--batch-size", type=int, default=Options.batch_size)
        parser.add_argument("--report-every", type=float, default=10.0, help="seconds between progress lines")

    def handle(self, *args, **options):
        Worker(Options(
            group_id=options["group"], from_beginning=options["from_beginning"],
            max_messages=options["max_messages"], idle_timeout=options["idle_timeout"],
            batch_size=options["batch_size"], report_every=options["report_every"],
        )).run()
