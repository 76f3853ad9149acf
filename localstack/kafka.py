"""The stack's Apache Kafka: a single KRaft node (broker and controller) with the project's topics."""

import base64
import uuid

from django.conf import settings

from fraudsite.kafka import broker_reachable
from fraudsite.topics import ensure_topics, topics_led

from .artifacts import ensure_kafka
from .layout import paths
from .messages import say
from .processes import log4j_options, require_free_port, run_checked, running_pid, spawn, wait_for


def format_kafka_storage(properties, data, classpath):
    """Give a new broker its cluster id (once; a formatted data directory is kept)."""
    if (data / "meta.properties").exists():
        return
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    # --cluster-id=...: a random id may begin with "-", which would read as an option.
    run_checked(["java", "-cp", classpath, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                 "-c", str(properties)], "formatting Kafka's storage")


def start_kafka():
    if running_pid("kafka"):
        say(f"Kafka already running (pid {running_pid('kafka')})")
        return
    jars = ensure_kafka()
    require_free_port(settings.STACK_KAFKA_PORT, "STACK_KAFKA_PORT")
    require_free_port(settings.STACK_KAFKA_CONTROLLER_PORT, "STACK_KAFKA_CONTROLLER_PORT")
    p = paths()
    data = p.state / "kafka" / "data"
    properties = p.state / "kafka" / "server.properties"
    properties.parent.mkdir(parents=True, exist_ok=True)
    kafka_port, controller_port = settings.STACK_KAFKA_PORT, settings.STACK_KAFKA_CONTROLLER_PORT
    properties.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@localhost:{controller_port}",
                f"listeners=PLAINTEXT://localhost:{kafka_port},CONTROLLER://localhost:{controller_port}",
                f"advertised.listeners=PLAINTEXT://localhost:{kafka_port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={data}",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "",
            ]
        )
    )
    classpath = f"{jars}/*"
    format_kafka_storage(properties, data, classpath)
    pid = spawn("kafka", ["java", "-Xms512m", "-Xmx512m", *log4j_options("kafka"),
                          "-cp", classpath, "kafka.Kafka", str(properties)])
    say(f"Kafka starting on localhost:{kafka_port} (pid {pid})")
    wait_for("Kafka", broker_reachable, 90, p.logs / "kafka.log")
    created = ensure_topics()
    wait_for("Kafka's partition leaders", topics_led, 90, p.logs / "kafka.log")
    say(f"topics ready{' (created ' + ', '.join(created) + ')' if created else ''}")
