"""The web tier's command (fraudsite.server): what it does to the listening socket it is given."""

import os
import socket
import subprocess
import sys

from django.conf import settings

from tests.support.waiting import wait_until


def test_connections_to_an_inherited_listener_send_without_waiting_for_acknowledgements(tmp_path):
    """uvicorn serves a socket given by --fd as a Unix socket and never turns Nagle's algorithm off
    for its connections: each answer's body then waited for the client's delayed acknowledgement
    of its headers (40 ms on every decision in B5). fraudsite.server sets TCP_NODELAY on the
    listener, which every accepted connection inherits. Run as the tests' site runs it, in a
    process of its own, stopped as soon as the listener shows it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    server = subprocess.Popen([sys.executable, "-m", "fraudsite.server", "--processes", "1",
                               "--fd", str(listener.fileno())], cwd=settings.BASE_DIR, start_new_session=True,
                              pass_fds=[listener.fileno()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 30,
                   "fraudsite.server to set TCP_NODELAY on the listener")
    finally:
        server.terminate()  # while uvicorn starts: it must stop too, not be left orphaned
        server.wait(30)
    wait_until(lambda: _processes_in_group(server.pid), 10, "uvicorn to stop with fraudsite.server",
               until=lambda pids: not pids)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    with client, accepted, listener:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def _processes_in_group(group):
    """Pids of the live processes in a process group (from /proc; zombies are not counted)."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
        except OSError:  # not a process, or one that just ended
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if fields[0] != "Z" and int(fields[2]) == group:
            pids.append(int(entry))
    return pids
