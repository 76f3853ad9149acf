"""The web tier's command (fraudsite.server): what it does to the listening socket it is given."""

import socket
import subprocess
import sys

from fraudsite import server


def test_connections_to_an_inherited_listener_send_without_waiting_for_acknowledgements(monkeypatch, tmp_path):
    """uvicorn serves a socket given by --fd as a Unix socket and never turns Nagle's algorithm off
    for its connections: each answer's body then waited for the client's delayed acknowledgement
    of its headers (40 ms on every decision in B5). fraudsite.server sets TCP_NODELAY on the
    listener, which every accepted connection inherits."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda argv, **options: started.append(argv) or _Exited())
    monkeypatch.setattr(sys, "argv", ["fraudsite.server", "--processes", "1", "--fd", str(listener.fileno())])
    # main() would otherwise set this in os.environ for good, naming a directory it then deletes:
    # every later process this session starts would fail to count its metrics.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    try:
        server.main()
    except SystemExit as stop:
        assert stop.code == 0
    assert "--fd" in started[0]
    assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    with client, accepted, listener:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


class _Exited:
    def wait(self):
        return 0

    def terminate(self):
        pass
