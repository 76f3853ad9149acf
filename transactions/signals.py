from django.dispatch import Signal

# Sent by store_rows inside the transaction that stores the verdicts, with rows=[stored verdict
# rows as dicts]: receivers' writes commit or roll back with the verdicts.
verdicts_stored = Signal()
