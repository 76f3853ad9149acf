"""Operators' WebSocket clients against a running site: used by the load test and the benchmarks."""

import asyncio
import json
import time
from datetime import datetime

# For channels.testing.WebsocketCommunicator's connect and disconnect: their default, 1 s, is too short
# for a worker's first socket on a busy machine (its session and channel-layer connections).
COMMUNICATOR_TIMEOUT = 10


def session_cookie(user):
    """A Cookie header value signing `user` in (valid where the site shares this process's SECRET_KEY)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                    HASH_SESSION_KEY: user.get_session_auth_hash()})
    session.create()
    return f"sessionid={session.session_key}"


def operator_cookies(count, prefix="ws-operator"):
    """Session cookies of `count` distinct operators allowed to watch verdicts (one each, since a
    user's sockets are capped by WEBSOCKETS_PER_USER)."""
    from django.contrib.auth import get_user_model

    cookies = []
    for number in range(count):
        user, _ = get_user_model().objects.get_or_create(username=f"{prefix}-{number}")
        user.is_superuser = True
        user.set_unusable_password()
        user.save()
        cookies.append(session_cookie(user))
    return cookies


def session_headers(client, user, origin=b"http://localhost:8000"):
    """ASGI headers of a WebSocket from `user`'s signed-in page at `origin` (in-process tests)."""
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()), (b"origin", origin),
            (b"host", b"localhost:8000")]


async def stream_to_clients(site_url, cookies, user_ids, rate, seconds, wait=20):
    """Connect one operator's client per cookie to /ws/alerts/, send `rate` simulated transactions/s
    for `seconds` s, and wait (at most `wait` s after the last) until every client has every verdict.

    Returns ({transaction_id: send time in epoch ms} of every transaction sent, how many Kafka
    acknowledged, one {transaction_id: ms from produce to arrival} per client); a transaction's
    own timestamp is its send time."""
    import websockets

    from transactions import simulator

    sent_ids, done = {}, asyncio.Event()
    received = [{} for _ in cookies]

    async def listen(connection, into):
        while not done.is_set():
            try:
                frame = json.loads(await asyncio.wait_for(connection.recv(), timeout=1))
            except asyncio.TimeoutError:
                continue
            arrived = time.time() * 1000
            for message in frame:  # the messages of one push
                if message.get("transaction_id") in sent_ids:
                    sent_at = datetime.fromisoformat(message["timestamp"]).timestamp() * 1000
                    into[message["transaction_id"]] = arrived - sent_at

    connections = [await websockets.connect(site_url.replace("http", "ws", 1) + "/ws/alerts/", origin=site_url,
                                            additional_headers={"Cookie": cookie}, max_queue=None)
                   for cookie in cookies]
    listeners = [asyncio.create_task(listen(connection, into)) for connection, into in zip(connections, received)]
    acknowledged = await asyncio.to_thread(simulator.run, user_ids, int(rate * seconds), rate, 0.05, None, None,
                            lambda record: sent_ids.__setitem__(record["transaction_id"], record["timestamp"]))
    deadline = time.monotonic() + wait
    while any(len(into) < len(sent_ids) for into in received) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    done.set()
    await asyncio.gather(*listeners)
    for connection in connections:
        await connection.close()
    return sent_ids, acknowledged, received
