"""What a transaction may say beyond its customer, amount, place and time: the card (as a token),
the merchant, the channel, the device and the IP address (issue 32). Each field is optional, so a
client that sends none of them is still accepted; each is declared here once, with the check an
entry point applies to it. The Avro contract (transactions/schemas/card-transactions.avsc) carries
them as ["null", "string"] fields with a null default, and the Transaction row stores them.
"""

import ipaddress
import re
from dataclasses import dataclass
from typing import Callable

from django.db import models

from fraudsite.validation import has_control_characters

IDENTIFIER = re.compile(r"^[A-Za-z0-9_.:/+=-]+$")
# A card number (PAN) is 12 to 19 digits (ISO/IEC 7812), often written in groups.
PAN_SEPARATORS = re.compile(r"[ -]")
PAN_DIGITS = re.compile(r"^[0-9]{12,19}$")


CHANNELS = ("card_present", "ecommerce", "atm")
IP_ADDRESS_LENGTH = 39  # the longest IPv6 address, written out in full


def passes_luhn(digits):
    """The check digit card numbers carry (ISO/IEC 7812-1)."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def looks_like_a_card_number(text):
    digits = PAN_SEPARATORS.sub("", text)
    return bool(PAN_DIGITS.match(digits)) and passes_luhn(digits)


def _identifier(max_length, what):
    def clean(value):
        if not IDENTIFIER.match(value) or len(value) > max_length:
            raise ValueError(f"{what}: 1 to {max_length} letters, digits or any of _ . : / + = -.")
        return value
    return clean


def _card_token(value):
    if looks_like_a_card_number(value):
        raise ValueError("This looks like a card number (PAN). Send a token of the card (for example a keyed "
                         "hash), never its number: nothing with a card number is stored or forwarded.")
    return _identifier(128, "A card token")(value)


def _card_bin(value):
    if not re.fullmatch(r"[0-9]{6}|[0-9]{8}", value):
        raise ValueError("A card's BIN (its issuer identification number) is its first 6 or 8 digits.")
    return value


def _merchant_category_code(value):
    if not re.fullmatch(r"[0-9]{4}", value):
        raise ValueError("A merchant category code (ISO 18245) is 4 digits, for example 5411.")
    return value


def _country(value):
    import pycountry  # here, not at the top: its import takes 50 ms, and most processes never check a country

    if not re.fullmatch(r"[A-Z]{2}", value) or pycountry.countries.get(alpha_2=value) is None:
        raise ValueError("An ISO 3166-1 alpha-2 country code in capitals, for example GB or FR.")
    return value


def _channel(value):
    if value not in CHANNELS:
        raise ValueError(f"One of {', '.join(CHANNELS)}.")
    return value


def _ip_address(value):
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is None or getattr(address, "scope_id", None):  # a zone (fe80::1%eth0) is this host's own
        raise ValueError("An IPv4 or IPv6 address without a zone, for example 203.0.113.7.")
    return str(address)  # one spelling per address (IPv6 compressed)


@dataclass(frozen=True)
class ContextField:
    name: str  # in requests, the Avro record, the Transaction and the verdict
    max_length: int  # of the stored text, after clean()
    clean: Callable  # str -> the stored str; raises ValueError(message)
    label: str


FIELDS = [
    ContextField("card_token", 128, _card_token, "card token"),
    ContextField("card_bin", 8, _card_bin, "card BIN"),
    ContextField("merchant_id", 64, _identifier(64, "A merchant id"), "merchant"),
    ContextField("merchant_category_code", 4, _merchant_category_code, "merchant category code"),
    ContextField("merchant_country", 2, _country, "merchant country"),
    ContextField("channel", 16, _channel, "channel"),
    ContextField("device_id", 128, _identifier(128, "A device id"), "device"),
    ContextField("ip_address", IP_ADDRESS_LENGTH, _ip_address, "IP address"),
]
NAMES = [field.name for field in FIELDS]


def clean_context(data, errors):
    """{name: cleaned value or None} of the optional context fields in data (a dict from a request);
    what is wrong goes to errors[name]. An absent field, null or "" is None."""
    cleaned = {}
    for field in FIELDS:
        value = data.get(field.name)
        cleaned[field.name] = None
        if value is None or value == "":
            continue
        if not isinstance(value, str) or has_control_characters(value):
            errors[field.name] = ["Must be text without control characters."]
            continue
        try:
            cleaned[field.name] = field.clean(value.strip())
        except ValueError as error:
            errors[field.name] = [str(error)]
    return cleaned


def values_of(cleaned):
    """{name: value or None} of the context in a cleaned submission (absent: not given)."""
    return {name: cleaned.get(name) for name in NAMES}


def model_fields():
    """The Transaction's and the Verdict's fields for the context: null where not given."""
    return {field.name: models.CharField(field.label, max_length=field.max_length, null=True, blank=True)
            for field in FIELDS}
