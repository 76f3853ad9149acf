"""Trusted devices: a browser in which someone signed in before keeps its own count of wrong
passwords, so that a stranger guessing at the same address (an office's, a proxy's) does not lock
that person out (OWASP's "device cookies").

django-axes locks a (username, address) pair after LOGIN_FAILURE_LIMIT wrong passwords. A sign-in
that carries this username's device cookie is exempt from that lock (AXES_WHITELIST_CALLABLE) and
counted on its own instead: after as many wrong passwords from the device, it loses the exemption
for the cool-off, so a stolen cookie buys no more guesses than an address does."""

import secrets
from datetime import timedelta

from axes.helpers import get_client_username
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core import signing
from django.core.cache import cache
from django.dispatch import receiver

COOKIE = "fraudsite_device"
SALT = "fraudsite.accounts.device"
MAX_AGE = timedelta(days=90)


def _device(request, credentials):
    """The id of the request's device cookie when it is valid for the username being signed in, else None."""
    value = request.COOKIES.get(COOKIE) if request is not None else None
    username = get_client_username(request, credentials) if value else None
    try:
        device = signing.loads(value, salt=SALT, max_age=MAX_AGE) if username else {}
    except signing.BadSignature:
        return None
    return device.get("device") if device.get("username") == username else None


def _failures(device):
    return f"accounts:device-failures:{device}"


def is_trusted_device(request, credentials=None):
    """AXES_WHITELIST_CALLABLE: a device this username signed in on, not past its own limit."""
    device = _device(request, credentials)
    return device is not None and cache.get(_failures(device), 0) < settings.AXES_FAILURE_LIMIT


@receiver(user_login_failed)
def count_device_failure(sender, credentials, request=None, **kwargs):
    if device := _device(request, credentials):
        cache.add(_failures(device), 0, timeout=int(settings.AXES_COOLOFF_TIME.total_seconds()))
        cache.incr(_failures(device))


@receiver(user_logged_in)
def trust_device(sender, request, user, **kwargs):
    if request is not None:
        request.trusted_device_for = user.get_username()  # the cookie goes on the response (the middleware)


class DeviceCookieMiddleware:
    """Sets the device cookie on the answer to a successful sign-in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if username := getattr(request, "trusted_device_for", None):
            value = signing.dumps({"username": username, "device": secrets.token_urlsafe(16)}, salt=SALT)
            response.set_cookie(COOKIE, value, max_age=int(MAX_AGE.total_seconds()), httponly=True, samesite="Lax",
                                secure=settings.SESSION_COOKIE_SECURE)
        return response
