from django.core.management.base import BaseCommand, CommandError

from proposals.replay_queue import ReplayServer, replay_proposal
from proposals.services import ProposalRefused


class Command(BaseCommand):
    help = ("With --serve: the replay process, which runs the replays queued by the proposal page's Replay button "
            "one at a time until SIGTERM. With a proposal id: replay that proposal now, in the foreground, and print "
            "the result.")

    def add_arguments(self, parser):
        parser.add_argument("proposal_id", type=int, nargs="?")
        parser.add_argument("--serve", action="store_true", help="serve queued replays until stopped")

    def handle(self, *args, proposal_id, serve, **options):
        if serve == (proposal_id is not None):
            raise CommandError("Give a proposal id, or --serve.")
        if serve:
            ReplayServer().run()  # until SIGINT or SIGTERM
            return
        try:
            proposal = replay_proposal(proposal_id)
        except ProposalRefused as error:
            raise CommandError(str(error)) from None
        except Exception as error:
            raise CommandError(f"The replay failed: {error}") from None
        result = proposal.replay_result
        self.stdout.write(
            f"{result['transactions']:,} transactions in the window; alerts {result['alerts_before']:,} then, "
            f"{result['alerts_after']:,} now; gained {result['gained']['count']:,} "
            f"({result['gained']['confirmed_fraud']:,} confirmed fraud, {result['gained']['false_positive']:,} false "
            f"positive), lost {result['lost']['count']:,} ({result['lost']['confirmed_fraud']:,} confirmed fraud, "
            f"{result['lost']['false_positive']:,} false positive); phases {result['timings']} s")
