"""The Flink client that production code uses: the local session cluster's REST API, and where a
bounded Flink job (a proposal's replay) runs, through one interface with two implementations.

* flink_rest(), flink_overview(), detection_jobs(): the local cluster's REST API (what /health
  reads of the detection job, what `stack up` waits for).
* LocalFlink: the local stack's session cluster: the statements as one script through its SQL
  client, the job followed through Flink's REST API. The SQL client is a JVM that the local stack
  fetches and starts (localstack/flink.py); the localstack app registers it when Django starts
  (register_local_sql_client), so that no module outside localstack/ imports the launcher.
* CloudStatements: Confluent Cloud for Apache Flink's statement REST API (sql/v1): each statement
  created, its status polled until it completes, its results read, and then deleted
  (https://docs.confluent.io/cloud/current/flink/operate-and-deploy/flink-rest-api.html).

flink_client() picks the one the settings describe; unavailable() says, before anyone relies on
it, why a replay cannot run here.
"""

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

# The local detection job's name is this prefix and the fingerprint of its SQL (localstack/flink.py).
JOB_NAME_PREFIX = "fraud-detection-"

# Statement phases of sql/v1 that end a statement.
FINISHED, FAILED_PHASES = "COMPLETED", ("FAILED", "FAILING", "STOPPED", "DEGRADED")
# The settings a replay on Confluent Cloud needs (cloud_env writes them from Terraform's outputs).
CLOUD_SETTINGS = ("CONFLUENT_FLINK_REST_ENDPOINT", "CONFLUENT_ORGANIZATION_ID", "CONFLUENT_ENVIRONMENT_ID",
                  "CONFLUENT_FLINK_COMPUTE_POOL_ID", "CONFLUENT_FLINK_PRINCIPAL_ID", "CONFLUENT_FLINK_API_KEY",
                  "CONFLUENT_FLINK_API_SECRET", "CONFLUENT_FLINK_CATALOG", "CONFLUENT_FLINK_DATABASE")


class FlinkJobFailed(RuntimeError):
    """The job failed, or did not finish in time; the message says how."""


def flink_rest(path, method="GET", timeout=5, body=None):
    """An answer of the local cluster's REST API, as JSON."""
    request = urllib.request.Request(
        f"http://localhost:{settings.STACK_FLINK_REST_PORT}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={} if body is None else {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


def flink_overview():
    """The cluster's overview, or None when it does not answer."""
    try:
        return flink_rest("/overview", timeout=2)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def detection_jobs():
    """Jobs of the cluster whose name marks them as the detection job: [{'jid', 'name', 'state'}]."""
    try:
        jobs = flink_rest("/jobs/overview")["jobs"]
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return []
    return [job for job in jobs if job["name"].startswith(JOB_NAME_PREFIX)]


_local_sql_client = None


def register_local_sql_client(run_script):
    """run_script(path, what) runs a SQL script through the local cluster's SQL client."""
    global _local_sql_client
    _local_sql_client = run_script


class LocalFlink:
    """The local stack's Flink session cluster."""

    variant = "replay"  # fraudsite/detection_sql.py: the local query over a replay's topics

    def run_bounded(self, name, statements, progress, timeout):
        """Run the statements as one script (pipeline name `name`) and wait until its job finishes;
        progress() is called about every second while it runs."""
        import tempfile
        from pathlib import Path

        if _local_sql_client is None:
            raise FlinkJobFailed("no local Flink SQL client: the localstack app is not installed")
        with tempfile.TemporaryDirectory(prefix="replay-") as folder:
            script = Path(folder) / "replay.sql"
            script.write_text(f"SET 'pipeline.name' = '{name}';\n\n" + "\n\n".join(statements))
            _local_sql_client(script, "the replay SQL")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = next((j for j in flink_rest("/jobs/overview")["jobs"] if j["name"] == name), None)
            if job and job["state"] == "FINISHED":
                return
            if job and job["state"] in ("FAILED", "CANCELED"):
                cause = flink_rest(f"/jobs/{job['jid']}/exceptions").get("root-exception") or job["state"]
                raise FlinkJobFailed(f"the replay job {job['state'].lower()}: {cause.splitlines()[0]}")
            progress()
            time.sleep(1)
        for job in flink_rest("/jobs/overview")["jobs"]:
            if job["name"] == name and job["state"] in ("CREATED", "INITIALIZING", "RUNNING", "RESTARTING"):
                flink_rest(f"/jobs/{job['jid']}?mode=cancel", method="PATCH")
        raise FlinkJobFailed(f"the replay job did not finish within {timeout} s")


class StatementApiError(RuntimeError):
    """The statement API refused a request; the message has its status and detail (never the key)."""


class CloudStatements:
    """Confluent Cloud's Flink statements, through the sql/v1 REST API, as one principal in one pool."""

    variant = "cloud-replay"

    def __init__(self, *, endpoint, organization_id, environment_id, compute_pool_id, principal, api_key, api_secret,
                 properties, poll_seconds=1.0):
        self.base = (f"{endpoint.rstrip('/')}/sql/v1/organizations/{organization_id}"
                     f"/environments/{environment_id}/statements")
        self.organization_id, self.environment_id = organization_id, environment_id
        self.compute_pool_id, self.principal, self.properties = compute_pool_id, principal, properties
        self._authorization = "Basic " + base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self.poll_seconds = poll_seconds

    @classmethod
    def from_settings(cls):
        s = settings
        return cls(endpoint=s.CONFLUENT_FLINK_REST_ENDPOINT, organization_id=s.CONFLUENT_ORGANIZATION_ID,
                   environment_id=s.CONFLUENT_ENVIRONMENT_ID, compute_pool_id=s.CONFLUENT_FLINK_COMPUTE_POOL_ID,
                   principal=s.CONFLUENT_FLINK_PRINCIPAL_ID, api_key=s.CONFLUENT_FLINK_API_KEY,
                   api_secret=s.CONFLUENT_FLINK_API_SECRET,
                   properties={"sql.current-catalog": s.CONFLUENT_FLINK_CATALOG,
                               "sql.current-database": s.CONFLUENT_FLINK_DATABASE, "sql.local-time-zone": "UTC"})

    def _request(self, method, url, body=None):
        request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": self._authorization, "Accept": "application/json",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            raise StatementApiError(f"{method} {urllib.parse.urlsplit(url).path}: HTTP {error.code}: "
                                    f"{_error_detail(error.read())}") from None
        except (urllib.error.URLError, OSError) as error:
            raise StatementApiError(f"{method} {urllib.parse.urlsplit(url).path}: {error}") from None
        return json.loads(text) if text else {}

    def create(self, name, sql):
        """Submit a statement; returns the Statement as the API answers it (its phase PENDING)."""
        return self._request("POST", self.base, {
            "name": name, "organization_id": self.organization_id, "environment_id": self.environment_id,
            "spec": {"statement": sql, "properties": self.properties, "compute_pool_id": self.compute_pool_id,
                     "principal": self.principal, "stopped": False}})

    def get(self, name):
        return self._request("GET", f"{self.base}/{name}")

    def results(self, name):
        """Every row of the statement's results, following the pages (metadata.next), as lists."""
        rows, url = [], f"{self.base}/{name}/results"
        while url:
            page = self._request("GET", url)
            rows.extend(change["row"] for change in (page.get("results") or {}).get("data") or [])
            url = (page.get("metadata") or {}).get("next") or None
        return rows

    def delete(self, name):
        self._request("DELETE", f"{self.base}/{name}")

    def wait(self, name, timeout, progress=None):
        """Poll until the statement completes; FlinkJobFailed when it fails or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.get(name).get("status") or {}
            phase = status.get("phase")
            if phase == FINISHED:
                return
            if phase in FAILED_PHASES:
                raise FlinkJobFailed(f"statement {name} {phase.lower()}: {status.get('detail') or 'no detail'}")
            if time.monotonic() >= deadline:
                raise FlinkJobFailed(f"statement {name} did not complete within {timeout} s (it was {phase})")
            if progress:
                progress()
            time.sleep(self.poll_seconds)

    def run(self, name, sql, timeout, progress=None, keep=False):
        """Create the statement, wait for it to complete and delete it (unless keep)."""
        self.create(name, sql)
        try:
            self.wait(name, timeout, progress)
        finally:
            if not keep:
                self.delete(name)

    def run_bounded(self, name, statements, progress, timeout):
        """The statements one after another (name-1, name-2, ..., name for the last), each deleted after."""
        *setup, last = statements
        for number, sql in enumerate(setup, start=1):
            self.run(f"{name}-{number}", sql, timeout)
        self.run(name, last, timeout, progress)


def _error_detail(body):
    """The API's error detail ({"errors": [{"detail": ...}]}), or the start of the body."""
    try:
        errors = json.loads(body).get("errors") or []
        return "; ".join(error.get("detail") or error.get("title") or "" for error in errors) or body[:300].decode()
    except (ValueError, AttributeError):
        return body[:300].decode(errors="replace")


def cloud_configured():
    return bool(settings.CONFLUENT_FLINK_REST_ENDPOINT)


def unavailable():
    """Why a replay cannot run with these settings (one sentence), or None when it can."""
    if cloud_configured():
        missing = [name for name in CLOUD_SETTINGS if not getattr(settings, name)]
        if missing:
            return (f"Replays run on Confluent Cloud's Flink, but {', '.join(missing)} "
                    f"{'is' if len(missing) == 1 else 'are'} not set (manage.py cloud_env writes them from Terraform).")
        return None
    if settings.SCHEMA_REGISTRY_URL:
        return ("The detection job runs on Confluent Cloud, and replays need its Flink statement API: set the "
                "CONFLUENT_FLINK_* settings (manage.py cloud_env writes them from Terraform), or no proposal can "
                "be replayed and so none approved.")
    return None


def flink_client():
    return CloudStatements.from_settings() if cloud_configured() else LocalFlink()
