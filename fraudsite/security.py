"""Secrets and error reports: a local key for a site only this machine can reach, and error
pages that never show a credential."""

import os
import re
import secrets
import time

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@host in a URL setting (DATABASE_URL, REDIS_URL, ...).
URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)


def local_secret_key(path):
    """The key in path, created once (random, readable by its owner only) when missing. Processes
    starting at once agree: only one creates the file, the others read what it wrote."""
    key = secrets.token_urlsafe(50)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # its writer may not have written it yet
            if existing := path.read_text().strip():
                return existing
            time.sleep(0.1)
        raise
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key)
    return key


class CredentialsHidingFilter(SafeExceptionReporterFilter):
    """Django's filter (settings named like KEY, SECRET, PASS... are hidden) plus the user
    information of every URL, wherever it appears in a setting."""

    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        if type(value) is str:  # not a lazy object that only looks like one
            return URL_CREDENTIALS.sub(rf"\g<scheme>{self.cleansed_substitute}@", value)
        return value
