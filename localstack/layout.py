"""Where the stack's files are: the artifacts, downloaded once into STACK_CACHE_DIR, and the state of
a running stack (data, logs, pid files, rendered config) in STACK_DIR."""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

HERE = Path(__file__).resolve().parent
KAFKA_VERSION = "4.1.1"
FLINK_VERSION = "2.2.1"


@dataclass
class Paths:
    cache: Path
    state: Path

    @property
    def kafka_jars(self):
        return self.cache / f"kafka-{KAFKA_VERSION}"

    @property
    def flink_home(self):
        return self.cache / f"flink-{FLINK_VERSION}"

    @property
    def logs(self):
        return self.state / "logs"

    @property
    def flink_conf(self):
        return self.state / "flink" / "conf"

    def pidfile(self, name):
        return self.state / f"{name}.pid"


def paths():
    return Paths(cache=settings.STACK_CACHE_DIR, state=settings.STACK_DIR)
