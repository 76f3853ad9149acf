"""Configuration comes from the environment; production settings pass Django's deployment checks."""

import os
import secrets
import subprocess
import sys

from django.conf import settings


def manage(*args, **env):
    environment = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "SECRET_KEY")}
    environment.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=environment,
                          capture_output=True, text=True)


def test_check_deploy_passes_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="False",
                    SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="fraud.example.com")
    assert result.returncode == 0, result.stdout + result.stderr


def test_local_defaults_need_no_configuration():
    result = manage("check")
    assert result.returncode == 0, result.stderr
