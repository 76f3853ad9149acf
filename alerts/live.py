"""Who holds which alert, pushed to the map and queue pages as it changes."""

from transactions.broadcast import push_to_operators


def holder_message(transaction_id, holder):
    return {"type": "holder", "transaction_id": transaction_id, "holder": holder.get_username() if holder else ""}


def push_holders(changes):
    """changes: (transaction id, holding user or None) pairs."""
    push_to_operators([holder_message(transaction_id, holder) for transaction_id, holder in changes])
