"""ASGI entry point: the decision API on the event loop (api/endpoint.py), the rest of HTTP through
Django, WebSockets through Channels (session auth, origin check)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudsite.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry ready)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from api.endpoint import DecisionEndpoint, lifespan  # noqa: E402
from fraudsite.origin import SameOriginValidator  # noqa: E402
from transactions.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "lifespan": lifespan,
        "http": DecisionEndpoint(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
    }
)
