from django.dispatch import Signal

# Sent by store_rows inside the transaction that stores the verdicts, with rows=[stored verdict
# rows as dicts]: receivers' writes commit or roll back with the verdicts. A redelivered verdict
# that is not stored (the same as the stored one, or a conflict) is not among the rows.
verdicts_stored = Signal()
