"""The lists the detection job checks a transaction against (the watchlists app manages them): the
kinds of value a list holds, each declared once with the transaction's column it matches, and the
limits the query is written for.

A list is a block list (a transaction whose value is on it fires the reason list:<name>, with the
list's weight in the score) or an allow list (it suppresses the reasons it names). Its entries reach
the job on the list-memberships topic, one record per looked-up value (key "<kind>:<value>"): every
entry of that value on a list of that kind, with its list's effect, weight and period.
"""

from dataclasses import dataclass

# A BIN list entry is a prefix of 6 or 8 digits; entries are looked up by their first 6 digits
# (the transaction's BIN's first 6), and an 8-digit one must also match the BIN's next two.
BIN_KEY_DIGITS = 6
# A reason a block list fires: this prefix and the list's name.
LIST_REASON_PREFIX = "list:"
# A list's name is part of reason codes, which a verdict stores in 40 characters, suppressed ones
# too ("suppressed:list:<name>").
MAX_LIST_NAME_LENGTH = 24
# The query checks this many entries of one looked-up value (a Flink SQL array has no filter or
# loop without a UDF, so each is a check of its own): at most this many lists of one kind may hold
# the same value (for a BIN: the same first 6 digits) at once.
MAX_LIST_MEMBERSHIPS = 4
# An allow list that suppresses every reason publishes this in place of a list of reason codes;
# one that suppresses every block list's reason names EVERY_LIST among its codes (an allow list
# names the signals' reasons one by one, and the block lists' together).
EVERY_REASON = "*"
EVERY_LIST = LIST_REASON_PREFIX + "*"


@dataclass(frozen=True)
class ListKind:
    name: str  # stored on the list, and the first part of its entries' keys on the topic
    label: str
    column: str  # the transaction's column (of the detection query) that the entries match
    prefix: bool = False  # entries are prefixes of the transaction's value (BIN)

    def key(self, value):
        """The list-memberships topic's key of a (cleaned) value."""
        return f"{self.name}:{value[:BIN_KEY_DIGITS] if self.prefix else value}"


KINDS = [
    ListKind("card_token", "card token", "card_token"),
    ListKind("merchant", "merchant", "merchant_id"),
    ListKind("mcc", "merchant category code", "merchant_category_code"),
    ListKind("country", "merchant country", "merchant_country"),
    ListKind("device", "device", "device_id"),
    ListKind("ip", "IP address", "ip_address"),
    ListKind("customer", "customer", "user_id"),
    ListKind("bin", "BIN prefix", "card_bin", prefix=True),
]
KINDS_BY_NAME = {kind.name: kind for kind in KINDS}
