"""The one way tests wait for something: poll until it holds, or fail saying what did not happen."""

import time

_NOTHING = object()


def wait_until(condition, timeout, what, until=bool, interval=0.1, retry_on=()):
    """Call condition() every `interval` s until until(its value) is true; return that value.

    After `timeout` s without it, raise AssertionError naming `what` (phrased to follow "waited
    N s for"), the timeout and the last value seen. Exceptions of the types in retry_on (e.g.
    OSError while a server starts) count as "not yet" and are reported as the last value if
    nothing better came; any other exception propagates at once. condition() is called at least
    once, and a last time at the deadline."""
    deadline = time.monotonic() + timeout
    last = _NOTHING
    while True:
        try:
            last = condition()
            if until(last):
                return last
        except retry_on as error:
            last = error
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval, remaining))  # the polling interval
    seen = "nothing" if last is _NOTHING else repr(last)
    raise AssertionError(f"waited {timeout} s for {what}; last value seen: {seen}")
