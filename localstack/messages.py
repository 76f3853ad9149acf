"""What the stack tells its user: StackError for a failure the user can fix, say() for progress."""


class StackError(Exception):
    """Something the user can fix; the message says what."""


def say(message):
    print(f"[stack] {message}", flush=True)
