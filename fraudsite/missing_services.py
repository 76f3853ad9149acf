"""One line, instead of a traceback, when a command cannot reach a service it needs: which service,
where it was looked for, and what to start (or run) to have it. manage.py prints it and exits 1."""

from django.conf import settings

START_SERVICES = "start it with `scripts/services.sh start` (`make run` does)"


def _database():
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"the SQLite file {db['NAME']}", True
    return f"PostgreSQL database {db['NAME']} at {db['HOST'] or 'localhost'}:{db['PORT'] or 5432}", False


def _first_line(error):
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _chain(error):
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def database_problem(error):
    """What to do about a database error that is the setup's fault (unreachable, missing, not
    migrated), or None for any other database error."""
    from django.db import DatabaseError

    if not isinstance(error, DatabaseError):
        return None
    where, sqlite = _database()
    text = " ".join(_first_line(link) for link in _chain(error))
    if not sqlite and "couldn't get a connection" in text:  # the pool's time-out: ask the server itself why
        text = _postgres_refusal() or text
    return _setup_problem(text, where, sqlite)


def _setup_problem(text, where, sqlite):
    """database_problem's answer for the error's text."""
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        hint = (" DATABASE_URL is not set: `make run` (or `make setup`) writes .env with the PostgreSQL "
                "database it uses." if sqlite else "")
        return f"{where} has no tables yet: run `python manage.py migrate` (`make run` does).{hint}"
    if "database" in text and "does not exist" in text:
        return (f"{where} does not exist: `scripts/services.sh start` creates fraudsite's; for another, run "
                f"`createdb` or change DATABASE_URL in .env")
    if "password authentication failed" in text:
        return f"{where} refused the user and password of DATABASE_URL (see .env)"
    if not sqlite and any(sign in text.lower() for sign in (
            "connection", "connect", "could not", "timeout", "server closed")):
        return f"{where} is not reachable ({text[:200]}): {START_SERVICES}, or set DATABASE_URL in .env"
    return None


def _postgres_refusal():
    """Why a direct connection to the configured PostgreSQL fails (its first line), or None if it works."""
    import psycopg

    db = settings.DATABASES["default"]
    try:
        psycopg.connect(dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"] or "localhost",
                        port=db["PORT"] or 5432, connect_timeout=3).close()
    except psycopg.Error as error:
        return " ".join(str(error).split())
    return None


def explain(error):
    """The one line for an error that means a service is missing, or None for any other error."""
    for link in _chain(error):
        message = database_problem(link)
        if message:
            return message
        if _is_redis_down(link):
            return f"Redis is not reachable at {_redis_address()} ({_first_line(link)}): {START_SERVICES}"
        if _is_kafka_down(link):
            return kafka_unreachable(_first_line(link))
    return None


def kafka_unreachable(detail):
    return (f"Kafka is not reachable at {settings.KAFKA_BOOTSTRAP_SERVERS} ({detail}): start the local stack "
            f"with `make stack-up` (`make run` does)")


def _is_redis_down(error):
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(error, (RedisConnectionError, RedisTimeoutError))


def _is_kafka_down(error):
    from confluent_kafka import KafkaError, KafkaException

    from fraudsite.kafka import DeliveryFailed

    if isinstance(error, DeliveryFailed):
        return True
    down = (KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN, KafkaError._MSG_TIMED_OUT)
    return (isinstance(error, KafkaException) and bool(error.args) and isinstance(error.args[0], KafkaError)
            and error.args[0].code() in down)


def _redis_address():
    from urllib.parse import urlsplit

    url = urlsplit(settings.REDIS_URL)
    return f"{url.hostname}:{url.port or 6379} (database {url.path.lstrip('/') or 0})"
