"""The transactions app's permissions, as has_perm takes them (templates use perms.transactions.*).
Reviewing alerts is the alerts app's (alerts.permissions.REVIEW_ALERT)."""

VIEW_VERDICT = "transactions.view_verdict"  # the map, the queue, alert and case pages, the live verdicts
ADD_TRANSACTION = "transactions.add_transaction"
