"""Every command the documentation shows works from a fresh shell on a fresh clone, against the
database and Redis that `make run` uses (.env, written once by make run / make setup): none ends in
a traceback, and a missing service is one line that says what to start.

The clone's .env names a throwaway database (never the product's), the tests' Redis database and
ports where no broker or Flink listens, so nothing here reaches what `make run` or another test runs.
"""

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from tests.support.checkout import clean_environment, free_ports, fresh_checkout, throwaway_database

pytestmark = [pytest.mark.django_db, pytest.mark.long]  # the throwaway database is made on the tests' server

# What the documentation shows is run exactly so (or with arguments that keep it short and local);
# every other documented command is run with --help. Long-running loops, interactive commands and
# commands that would start or stop processes are among the others.
SAFE = {
    "migrate": [["--noinput", "-v0"]],
    "check": [[]],
    "create_demo_data": [[]],
    "stack": [["status"], ["down"]],
    "republish_customers": [[]],
    "set_thresholds": [["user_1", "user_2", "--max-speed", "800", "--spend-factor", "off", "--reason", "winter"]],
    "deliver_webhooks": [["--once"]],
    "publish_outbox": [["--once"]],  # no broker where .env points: one line, exit 1
    "axes_reset_username": [["operator"]],
    "collectstatic": [["--noinput", "-v0"]],
    "simulate": [["--customers", "2", "--count", "1"]],  # no broker: one line
    "cloud_render": [[]],
    "users_config_schema": [[]],
}
# Make targets run for real; the others install packages or start processes: `make -n`. `-o setup`:
# the clone's packages are this checkout's (make setup would run apt-get and pip).
SAFE_MAKE = {"stack-status": ["make", "stack-status"], "stack-down": ["make", "stack-down"],
             "reset-password": ["make", "-o", "setup", "reset-password"]}


def documentation():
    root = Path(settings.BASE_DIR)
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def documented_commands():
    """({manage.py subcommands}, {make targets}) named in code (fenced blocks and `inline code`)."""
    commands, targets = set(), set()
    for page in documentation():
        text = page.read_text()
        code = re.findall(r"```.*?```", text, flags=re.S) + re.findall(r"`[^`\n]+`", text)
        for snippet in code:
            commands |= set(re.findall(r"manage\.py ([a-z_]+)", snippet))
            targets |= set(re.findall(r"\bmake ([a-z][a-z-]*)", snippet))
    return commands, targets


def test_the_documentation_names_commands_this_test_knows():
    commands, targets = documented_commands()
    assert {"stack", "consume_verdicts", "migrate"} <= commands and {"run", "test", "stack-status"} <= targets
    makefile = (Path(settings.BASE_DIR) / "Makefile").read_text()
    assert not {t for t in targets if not re.search(rf"^{re.escape(t)}:", makefile, flags=re.M)}, \
        "a documented make target is not in the Makefile"


@pytest.fixture(scope="module")
def clone(tmp_path_factory, django_db_blocker):
    """A fresh clone whose .env was written by make run's script, with a throwaway database."""
    checkout = fresh_checkout(tmp_path_factory.mktemp("clone"))
    kafka, controller, rest, rpc = free_ports(4)
    with django_db_blocker.unblock(), throwaway_database() as database_url:
        subprocess.run(["scripts/local-env.sh"], cwd=checkout, check=True, capture_output=True,
                       env=clean_environment(DATABASE_URL=database_url, REDIS_URL=settings.REDIS_URL or
                                             "redis://localhost:6379/2"))
        with open(checkout / ".env", "a") as env:  # a stack of this clone's own, never started
            env.write(f"STACK_KAFKA_PORT={kafka}\nSTACK_KAFKA_CONTROLLER_PORT={controller}\n"
                      f"STACK_FLINK_REST_PORT={rest}\nSTACK_FLINK_RPC_PORT={rpc}\n")
        yield checkout, database_url


def documented_runs(checkout, commands, targets):
    """Each documented command as this test runs it: its name -> argv."""
    runs = {}
    for command in sorted(commands):
        for args in SAFE.get(command, [["--help"]]):
            runs[" ".join(["manage.py", command, *args])] = manage_argv(checkout, command, *args)
    for target in sorted(targets):
        argv = SAFE_MAKE.get(target, ["make", "-n", target])
        runs[" ".join(argv)] = argv
    return runs


def run(clone, argv, timeout=180, **env):
    result = subprocess.run(argv, cwd=clone, env=clean_environment(**env), capture_output=True, text=True,
                            timeout=timeout)
    return result.returncode, result.stdout + result.stderr


def manage_argv(clone, *args):
    return [str(clone / ".venv" / "bin" / "python"), "manage.py", *args]


def manage(clone, *args, **env):
    return run(clone, manage_argv(clone, *args), **env)


def test_every_documented_command_runs_from_a_fresh_shell_without_a_traceback(clone):
    checkout, database_url = clone
    commands, targets = documented_commands()
    assert "DATABASE_URL=" + database_url in (checkout / ".env").read_text()
    runs = documented_runs(checkout, commands, targets)
    # The database and the demo data first, as make run does; the stack's commands one after the
    # other (they share its state directory); every other command beside them, each from a fresh shell.
    first = ["manage.py migrate --noinput -v0", "manage.py create_demo_data"]
    outcomes = {name: run(checkout, runs[name]) for name in first}
    stack = [name for name in runs if "stack" in name]
    groups = [[name] for name in runs if name not in first and name not in stack] + [stack]
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        for group_outcomes in pool.map(lambda group: {name: run(checkout, runs[name]) for name in group}, groups):
            outcomes.update(group_outcomes)
    tracebacks = {command: output[-1500:] for command, (_, output) in outcomes.items() if "Traceback" in output}
    assert not tracebacks
    failed = {command: output[-500:] for command, (code, output) in outcomes.items()
              if code != 0 and command not in ("manage.py publish_outbox --once", "manage.py simulate --customers 2 "
                                                                                 "--count 1")}
    assert not failed
    # The commands found the clone's PostgreSQL database (from .env), not an empty SQLite file.
    assert not (checkout / "db.sqlite3").exists()
    status = outcomes["make stack-status"][1]
    assert '"database": "ok"' in status and '"kafka_reachable": false' in status
    assert "password" in outcomes["make -o setup reset-password"][1]  # the operator's, in the clone's database
    # No broker where .env points: one line that says what to start.
    for command in ("manage.py publish_outbox --once", "manage.py simulate --customers 2 --count 1"):
        code, output = outcomes[command]
        assert code == 1 and "make stack-up" in output.strip().splitlines()[-1], (command, output)


def test_a_missing_database_is_one_line_that_says_what_to_start(clone):
    checkout, _ = clone
    (closed,) = free_ports(1)
    for args in (["create_demo_data"], ["stack", "status"]):
        code, output = manage(checkout, *args, DATABASE_URL=f"postgres://fraudsite:fraudsite@localhost:{closed}/none",
                              DATABASE_POOL_SIZE="0")
        assert "Traceback" not in output, output
        assert f"localhost:{closed}" in output and "scripts/services.sh start" in output, output
    # Through the pool (as configured by default), which waits DATABASE_POOL_TIMEOUT for a connection first.
    code, output = manage(checkout, "create_demo_data", DATABASE_URL=f"postgres://fraudsite:fraudsite@localhost:{closed}/none",
                          DATABASE_POOL_TIMEOUT="1")
    assert code == 1 and "Traceback" not in output
    assert output.strip().splitlines()[-1].startswith(f"PostgreSQL database none at localhost:{closed} is not reachable")
