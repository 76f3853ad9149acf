"""`make cloud-up`, `make cloud-down` and the probe, offline: Confluent Cloud cannot be reached
from here, so these check what can be without it: the arguments, the refusals before anything
runs, that nothing is destroyed without the confirmation (a stand-in `terraform` on the PATH
records how it is called), and the probe's waiting. What the scripts do against a real account
is `make cloud-smoke`'s (docs/confluent-cloud.md)."""

import os
import subprocess

import pytest
from django.conf import settings

from cloud.probe import ProbeFailed, probe
from cloud.smoke import WATERMARK, expected_tables, missing


@pytest.fixture
def terraform_calls(tmp_path):
    """A stand-in `terraform` first on the PATH, appending its arguments to a file; returns its reader."""
    log = tmp_path / "terraform.calls"
    stub = tmp_path / "bin" / "terraform"
    stub.parent.mkdir()
    stub.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{stub.parent}:{os.environ['PATH']}"}
    env.pop("CONFLUENT_CLOUD_API_KEY", None)
    env.pop("CONFLUENT_CLOUD_API_SECRET", None)
    return env, lambda: log.read_text().splitlines() if log.exists() else []


def script(name, *args, env):
    return subprocess.run([str(settings.BASE_DIR / "scripts" / name), *args], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def test_cloud_up_refuses_an_unknown_argument_with_its_usage(terraform_calls):
    env, calls = terraform_calls
    result = script("cloud-up.sh", "--destroy-everything", env=env)
    assert result.returncode == 2 and "unknown argument: --destroy-everything" in result.stderr
    assert "usage: scripts/cloud-up.sh" in result.stderr and calls() == []


def test_cloud_up_refuses_a_bad_isolation_level(terraform_calls):
    env, calls = terraform_calls
    result = script("cloud-up.sh", "--isolation-level", "dirty", env=env)
    assert result.returncode == 2 and "must be read_committed or read_uncommitted" in result.stderr and calls() == []


def test_cloud_up_without_credentials_says_so_before_anything_runs(terraform_calls):
    env, calls = terraform_calls
    result = script("cloud-up.sh", env=env)
    assert result.returncode == 1 and "set CONFLUENT_CLOUD_API_KEY and CONFLUENT_CLOUD_API_SECRET" in result.stderr
    assert calls() == []


def test_cloud_down_without_a_confirmation_destroys_nothing(terraform_calls):
    env, calls = terraform_calls
    result = script("cloud-down.sh", env=env)
    assert result.returncode == 0 and "not destroyed" in result.stdout and "make cloud-down CONFIRM=fraudsite" in result.stdout
    assert calls() == []


def test_cloud_down_with_another_name_destroys_nothing(terraform_calls):
    env, calls = terraform_calls
    result = script("cloud-down.sh", "--confirm", "fraudsite-prod", env=env)
    assert result.returncode == 1 and "'fraudsite-prod' is not the deployment's name (fraudsite)" in result.stderr
    assert calls() == []


def test_cloud_down_with_the_deployments_name_destroys_it(terraform_calls):
    env, calls = terraform_calls
    result = script("cloud-down.sh", "--confirm", "fraudsite", env=env)
    assert result.returncode == 0, result.stderr
    assert calls() == ["-chdir=terraform destroy -input=false -auto-approve"]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_the_probe_reports_the_verdict_and_how_long_it_took():
    clock, answers = Clock(), iter([None, None, {"status": "VALID", "reasons": "no_history"}])
    transaction_id, verdict, seconds = probe(10, send=lambda: "probe-1", verdict_of=lambda _: next(answers),
                                             clock=clock, sleep=clock.sleep)
    assert (transaction_id, verdict["status"]) == ("probe-1", "VALID") and seconds == pytest.approx(0.4)


def test_the_probe_gives_up_saying_what_to_look_at():
    clock = Clock()
    with pytest.raises(ProbeFailed, match="no verdict for the probe transaction probe-2 within 5 s: is the detection"):
        probe(5, send=lambda: "probe-2", verdict_of=lambda _: None, clock=clock, sleep=clock.sleep)


def test_the_smoke_check_names_what_a_table_lacks():
    users_config = settings.TOPIC_USERS_CONFIG
    fragments = expected_tables()[users_config]
    shown = (f"CREATE TABLE `{users_config}` (\n  `key` VARBINARY(2147483647) NOT NULL,\n"
             + "".join(f"  `{f}` STRING,\n" for f in ("first_name", "last_name", "max_speed")) + f"  {WATERMARK}\n)")
    lacking = missing(shown, fragments)
    assert "PRIMARY KEY (`key`) NOT ENFORCED" in lacking and "'changelog.mode' = 'upsert'" in lacking
    assert "`key` VARBINARY" not in lacking and "`first_name`" not in lacking and WATERMARK not in lacking
