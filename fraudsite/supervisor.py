"""Runs a command and starts it again whenever it exits, until the supervisor itself is stopped:
the restart half of the process supervision of `make run` (through `stack up`) and `make
cloud-up`, for the event clock. A command that keeps failing is restarted ever more slowly
(doubling up to max_delay); one that ran for a while starts again after min_delay.

    python -m fraudsite.supervisor --name event-clock -- python manage.py event_clock

SIGTERM or SIGINT stops the command (SIGTERM, then SIGKILL after 30 s) and the supervisor.
"""

import argparse
import signal
import subprocess
import sys
import threading
import time

# A run at least this long counts as healthy: the next restart waits min_delay again.
HEALTHY_SECONDS = 60.0


class Supervisor:
    def __init__(self, command, name, min_delay=1.0, max_delay=30.0, say=None):
        if not command:
            raise ValueError("no command to supervise")
        self.command, self.name = command, name
        self.min_delay, self.max_delay = min_delay, max_delay
        self.say = say or (lambda message: print(f"supervisor[{name}]: {message}", file=sys.stderr, flush=True))
        self.stopped = threading.Event()
        self.process = None
        self.starts = 0

    def run(self):
        """Start, wait, restart; returns when stop() was called (after the command has ended)."""
        delay = self.min_delay
        while not self.stopped.is_set():
            began = time.monotonic()
            self.process = subprocess.Popen(self.command)
            self.starts += 1
            if self.stopped.is_set():  # stop() came between the check above and the start
                self.process.terminate()
            code = self.process.wait()
            if self.stopped.is_set():
                break
            delay = self.min_delay if time.monotonic() - began >= HEALTHY_SECONDS else delay
            self.say(f"{self.name} exited with status {code}; starting it again in {delay:.0f} s")
            self.stopped.wait(delay)
            delay = min(delay * 2, self.max_delay)

    def stop(self, *_):
        self.stopped.set()
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="what the command is, for the log lines")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- and the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to supervise after --")
    supervisor = Supervisor(command, args.name)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: threading.Thread(target=supervisor.stop).start())
    supervisor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
