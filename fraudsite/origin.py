"""WebSocket origin check by full origin (scheme, host and port), as the CSRF check does for forms."""

from channels.security.websocket import WebsocketDenier
from django.conf import settings


def _header(scope, name):
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


class SameOriginValidator:
    """Accepts a WebSocket only from a page of this very origin: the Origin header must be the
    connection's own scheme://host:port (or one of CSRF_TRUSTED_ORIGINS). Channels'
    AllowedHostsOriginValidator, which runs first, compares host names only, so another site on
    the same host but another port (any local web app) would pass it."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        origin, host = _header(scope, b"origin"), _header(scope, b"host")
        scheme = "https" if scope.get("scheme") in ("wss", "https") or _behind_tls_proxy(scope) else "http"
        allowed = {f"{scheme}://{host}", *settings.CSRF_TRUSTED_ORIGINS} if host else set()
        if origin is not None and _normalised(origin) in {_normalised(entry) for entry in allowed}:
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def _behind_tls_proxy(scope):
    """What Django's request.is_secure() says behind a TLS-terminating proxy (SECURE_PROXY_SSL_HEADER)."""
    if not settings.SECURE_PROXY_SSL_HEADER:
        return False
    meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
    header = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode()
    return (_header(scope, header) or "").split(",")[0].strip() == secure_value


def _normalised(origin):
    """Lower case, and the scheme's default port made explicit (http://a equals http://a:80)."""
    origin = origin.lower().rstrip("/")
    scheme, _, rest = origin.partition("://")
    if ":" not in rest.rsplit("]", 1)[-1]:
        rest += ":443" if scheme == "https" else ":80"
    return f"{scheme}://{rest}"
