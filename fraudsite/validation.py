"""Checks every entry point applies to text and numbers from outside, before they reach the
database or the arithmetic: what PostgreSQL cannot store (NUL), what a page should never show
(other control characters), numbers no float can hold, and JSON nested past any real body."""

import json
import math
import re

# Control characters other than tab, line feed and carriage return; lone surrogates (a JSON
# "\ud800" decodes to one, and no database or encoder takes it); and the bidirectional
# overrides and isolates, which make shown text read other than it is stored.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
# Every line break Unicode knows, tab included: not in one-line fields.
LINE_BREAKS = re.compile(r"[\t\n\r\x85\u2028\u2029]")
# The request bodies of this site are flat objects; anything deeper is not one of them.
MAX_JSON_DEPTH = 5


class BadBody(ValueError):
    """A request body that is not acceptable JSON; the message says why."""


def has_control_characters(text, multiline=False):
    """Whether text holds a control character (tab and line breaks too, unless multiline)."""
    return bool(CONTROL_CHARACTERS.search(text) or (not multiline and LINE_BREAKS.search(text)))


def finite_float(value):
    """value as a finite float, or None when it is not a number a float can hold (bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int such as 10**400
        return None
    return number if math.isfinite(number) else None


def _depth(value, limit):
    if limit < 0:
        return False
    if isinstance(value, dict):
        return all(_depth(item, limit - 1) for item in value.values())
    if isinstance(value, list):
        return all(_depth(item, limit - 1) for item in value)
    return True


def parse_json_body(body):
    """The parsed JSON of a request body; BadBody when it is not JSON or nested too deeply."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadBody("The body must be JSON.") from None
    except RecursionError:  # deeper than the parser itself goes
        raise BadBody(f"The body is nested more than {MAX_JSON_DEPTH} levels deep.") from None
    if not _depth(data, MAX_JSON_DEPTH):
        raise BadBody(f"The body is nested more than {MAX_JSON_DEPTH} levels deep.")
    return data
