"""An HTTP fake of Confluent Cloud for Apache Flink's statement API (sql/v1), for the tests of
fraudsite/flink_client.py and of replays on Confluent Cloud.

Built from Confluent's documented requests and answers: "Flink SQL REST API"
(https://docs.confluent.io/cloud/current/flink/operate-and-deploy/flink-rest-api.html), and the
OpenAPI pages of the Statements (sql/v1) API: "Read a Statement"
(https://docs.confluent.io/cloud/current/ccloud/get-sqlv-1-statement/), "Read Statement Result"
(https://docs.confluent.io/cloud/current/ccloud/get-sqlv-1-statement-result/), "List of
Statements" (https://docs.confluent.io/cloud/current/ccloud/list-sqlv-1-statements/):

* POST   /sql/v1/organizations/{org}/environments/{env}/statements with {name, organization_id,
  environment_id, spec: {statement, properties, compute_pool_id, principal, stopped}} answers
  the Statement: {api_version: "sql/v1", kind: "Statement", name, organization_id,
  environment_id, metadata: {self, created_at, ...}, spec, status: {phase: "PENDING", detail}};
  a name in use is 409;
* GET    .../statements/{name} answers the Statement; status.phase goes PENDING, RUNNING,
  COMPLETED (or FAILED, with status.detail saying why);
* GET    .../statements/{name}/results answers {api_version, kind: "StatementResult", metadata:
  {self, next}, results: {data: [{op, row: [...]}]}}, the next page's URL in metadata.next
  (empty on the last);
* DELETE .../statements/{name} answers 202;
* errors are {errors: [{status, detail}]}; every request needs HTTP Basic with the Flink API key.

It does not run SQL: an INSERT "runs" by calling the test's run_insert(sql), which stands in for
Flink (the statements themselves run in the real open-source Flink in tests/test_detection.py).
"""

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = re.compile(r"^/sql/v1/organizations/(?P<org>[^/]+)/environments/(?P<env>[^/]+)/statements"
                  r"(?:/(?P<name>[^/?]+)(?P<results>/results)?)?(?:\?(?P<query>.*))?$")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class FakeStatementApi:
    def __init__(self, organization_id, environment_id, api_key, api_secret, run_insert=None, results=None,
                 fail=None):
        self.organization_id, self.environment_id = organization_id, environment_id
        self.authorization = "Basic " + base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self.run_insert = run_insert or (lambda sql: None)
        self.results = results or {}  # statement name -> pages of rows
        # fail(statement) -> the status.detail of its failure, or None for a statement that succeeds
        self.fail = fail or (lambda statement: None)
        self.statements = {}  # name -> the Statement as answered
        self.created, self.deleted, self.polls = [], [], 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, body=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status, detail):
                self._answer(status, {"errors": [{"status": str(status), "detail": detail}]})

            def _route(self, method):
                match = PATH.match(self.path)
                if self.headers.get("Authorization") != fake.authorization:
                    return self._error(401, "The API Key is invalid")
                if not match or (match["org"], match["env"]) != (fake.organization_id, fake.environment_id):
                    return self._error(404, f"no such resource: {self.path}")
                with fake.lock:
                    return fake.handle(self, method, match)

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

            def do_DELETE(self):
                self._route("DELETE")

        return Handler

    def statement_url(self, name):
        return (f"{self.url}/sql/v1/organizations/{self.organization_id}/environments/{self.environment_id}"
                f"/statements/{name}")

    def handle(self, request, method, match):
        name = match["name"]
        if method == "POST" and name is None:
            body = json.loads(request.rfile.read(int(request.headers.get("Content-Length", 0))))
            spec = body.get("spec") or {}
            missing = [key for key in ("statement", "compute_pool_id", "principal", "properties") if not spec.get(key)]
            if missing or not NAME.match(body.get("name") or ""):
                return request._error(400, f"invalid statement: name {body.get('name')!r}, missing {missing}")
            if body["name"] in self.statements:
                return request._error(409, f"statement {body['name']} already exists")
            statement = {"api_version": "sql/v1", "kind": "Statement", "name": body["name"],
                         "organization_id": self.organization_id, "environment_id": self.environment_id,
                         "metadata": {"self": self.statement_url(body["name"]), "created_at": "2026-01-01T00:00:00Z"},
                         "spec": spec, "status": {"phase": "PENDING", "detail": "Statement is pending."}}
            self.statements[body["name"]] = statement
            self.created.append(body)
            return request._answer(200, statement)
        statement = self.statements.get(name)
        if statement is None:
            return request._error(404, f"statement {name} not found")
        if method == "DELETE":
            del self.statements[name]
            self.deleted.append(name)
            return request._answer(202)
        if match["results"]:
            pages = self.results.get(name, [[]])
            page = int((match["query"] or "page_token=0").split("page_token=")[-1] or 0)
            next_url = f"{self.statement_url(name)}/results?page_token={page + 1}" if page + 1 < len(pages) else ""
            return request._answer(200, {"api_version": "sql/v1", "kind": "StatementResult",
                                         "metadata": {"self": f"{self.statement_url(name)}/results", "next": next_url},
                                         "results": {"data": [{"op": 0, "row": row} for row in pages[page]]}})
        self.polls += 1
        self._advance(statement)
        return request._answer(200, statement)

    def _advance(self, statement):
        """PENDING -> RUNNING (an INSERT runs then) -> COMPLETED; FAILED where fail() says why."""
        status, sql = statement["status"], statement["spec"]["statement"]
        if self.fail(statement):
            status.update(phase="FAILED", detail=self.fail(statement))
        elif status["phase"] == "PENDING" and is_insert(sql):
            status.update(phase="RUNNING", detail="Statement is running.")
            self.run_insert(sql)
        elif status["phase"] in ("PENDING", "RUNNING"):
            status.update(phase="COMPLETED", detail="Statement is completed.")


def is_insert(sql):
    """Whether the statement is an INSERT (after its leading comment lines)."""
    code = [line for line in sql.splitlines() if line.strip() and not line.lstrip().startswith("--")]
    return bool(code) and code[0].lstrip().upper().startswith("INSERT")
