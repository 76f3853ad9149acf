"""The pinned Kafka and Flink jars: downloaded once (from Maven Central through Maven, Flink's runtime
from PyPI's apache-flink-libraries) and checked against jars.sha256 before every start."""

import hashlib
import shutil
import sys
import zipfile
from pathlib import Path

from .layout import FLINK_VERSION, HERE, KAFKA_VERSION, paths
from .messages import StackError, say
from .processes import run_checked


def _lock():
    """Expected sha256 of every jar, from localstack/jars.sha256 ('<sha256>  <dir>/<file>')."""
    entries = {}
    for line in (HERE / "jars.sha256").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split()
            entries[name] = digest
    return entries


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(directory, prefix):
    """Check every jar of directory against the lock; raise on a missing, extra or altered jar."""
    expected = {name: digest for name, digest in _lock().items() if name.startswith(prefix + "/")}
    found = {f"{prefix}/{jar.name}": jar for jar in directory.glob("*.jar")}
    if set(found) != set(expected):
        raise StackError(
            f"{directory} does not match localstack/jars.sha256: "
            f"missing {sorted(set(expected) - set(found))}, unexpected {sorted(set(found) - set(expected))}"
        )
    for name, jar in found.items():
        if _sha256(jar) != expected[name]:
            raise StackError(f"checksum mismatch for {jar}: delete {directory} and run again")


def _maven_copy(pom, destination, what):
    say(f"downloading {what} from Maven Central (once) ...")
    staging = destination.with_name(destination.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    run_checked(
        [
            "mvn", "-B", "-q", "--strict-checksums",
            f"-Dmaven.repo.local={paths().cache / 'm2'}",
            "-f", str(HERE / pom),
            "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        ],
        f"downloading {what}",
    )
    return staging


def ensure_kafka():
    target = paths().kafka_jars
    if not target.exists():
        staging = _maven_copy("kafka-pom.xml", target, f"Apache Kafka {KAFKA_VERSION}")
        _verify(staging, "kafka")
        staging.rename(target)
    _verify(target, "kafka")
    return target


def ensure_flink():
    home = paths().flink_home
    if not home.exists():
        p = paths()
        downloads = p.cache / "downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        say(f"downloading the Flink {FLINK_VERSION} runtime (apache-flink-libraries, ~310 MB, once) ...")
        run_checked(
            [
                sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
                "-r", str(HERE / "flink-requirements.txt"), "-d", str(downloads),
            ],
            "downloading apache-flink-libraries",
        )
        wheel = next(downloads.glob(f"apache_flink_libraries-{FLINK_VERSION}-*.whl"))
        staging = home.with_name(home.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if member.startswith(("pyflink/lib/", "pyflink/opt/flink-sql-client", "pyflink/opt/flink-python",
                                      "pyflink/bin/bash-java-utils.jar")) and member.endswith(".jar"):
                    target = staging / Path(member).relative_to("pyflink")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(member) as source, open(target, "wb") as sink:
                        shutil.copyfileobj(source, sink)
        connectors = _maven_copy("flink-pom.xml", staging / "connectors", "Flink's Kafka connector and Avro format")
        connectors.rename(staging / "connectors")
        _verify(staging / "connectors", "flink-connectors")
        staging.rename(home)
    _verify(home / "connectors", "flink-connectors")
    return home


def require_java():
    if shutil.which("java") is None:
        raise StackError("Java 17 or newer is required: apt-get install openjdk-17-jre-headless")
