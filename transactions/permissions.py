"""The transactions app's permissions, as has_perm takes them (templates use perms.transactions.*)."""

VIEW_VERDICT = "transactions.view_verdict"  # the map, the queue, alert and case pages, the live verdicts
REVIEW_VERDICT = "transactions.review_verdict"  # declared by Verdict.Meta
ADD_TRANSACTION = "transactions.add_transaction"
