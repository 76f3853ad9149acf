"""Where a webhook may go. An endpoint URL is chosen by an administrator, but its requests leave
from this machine: without a check they could reach what only this machine or its network should
(Flink's REST API, Redis, the cloud's metadata service at 169.254.169.254). So a URL is refused,
at save and again at each send, when its host resolves to a private, loopback, link-local,
reserved or unspecified address, unless its host is named in WEBHOOK_INTERNAL_HOSTS; and a URL
with credentials in it (user:secret@host) is refused, since the endpoint lists show URLs.

At send, requests-hardened resolves the host once, checks that address and connects to it (the
certificate and the Host header still name the host), so a DNS answer that changes between the
check and the connection (DNS rebinding) cannot redirect a delivery inside."""

import re
import unicodedata
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress, filter_host

INTERNAL_ADDRESS = ("Refused: the host resolves to a private, loopback, link-local or reserved address "
                    "(allow an internal receiver by naming its host in WEBHOOK_INTERNAL_HOSTS).")
CREDENTIALS = "A webhook URL must not hold credentials (user:secret@host): the receiver checks the signature."
UNRESOLVED = "The host cannot be resolved."
# What the admin sees for any failure below HTTP (refused, reset, closed, timed out, unresolved):
# one message, so that deliveries cannot be used to tell open ports from closed ones.
NO_ANSWER = "No HTTP answer (the connection failed or timed out)."
EXCERPT_CHARS = 200
# Unicode categories shown as a space in an excerpt: control, format (bidirectional overrides
# among them), line and paragraph separators, private use, surrogates, unassigned.
_HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}


def is_named_internal(url):
    return (urlsplit(url).hostname or "") in settings.WEBHOOK_INTERNAL_HOSTS


def has_credentials(url):
    parts = urlsplit(url)
    return parts.username is not None or parts.password is not None


def refusal(url):
    """Why a webhook may not go to url (a message), or None when it may. (At send, the session
    checks the address it connects to instead: see session_for.)"""
    parts = urlsplit(url)
    if has_credentials(url):
        return CREDENTIALS
    if is_named_internal(url):
        return None
    try:
        filter_host(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), allow_loopback=False)
    except InvalidIPAddress:
        return INTERNAL_ADDRESS
    except (requests.RequestException, ValueError, UnicodeError):
        return UNRESOLVED
    return None


def session_for(url):
    """A requests session for url: checking the address it connects to, unless the host is named internal."""
    if is_named_internal(url):
        return requests.Session()
    return HTTPSession(Config(ip_filter_enable=True, ip_filter_allow_loopback_ips=False, never_redirect=True,
                              default_timeout=settings.WEBHOOK_TIMEOUT_SECONDS))


def shown_error(error):
    """What the admin is shown for a request that got no HTTP answer."""
    return INTERNAL_ADDRESS if isinstance(error, InvalidIPAddress) else NO_ANSWER


def excerpt(text):
    """The start of a reply as the admin may see it: at most EXCERPT_CHARS characters of plain
    text, without control characters, bidirectional overrides or line breaks."""
    shown = "".join(" " if unicodedata.category(char) in _HIDDEN else char for char in text[:EXCERPT_CHARS * 4])
    return re.sub(r"\s+", " ", shown).strip()[:EXCERPT_CHARS]


def without_credentials(url):
    """url with any user information masked (endpoints saved before credentials were refused)."""
    if not has_credentials(url):
        return url
    parts = urlsplit(url)
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()
