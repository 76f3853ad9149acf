"""Session-authenticated JSON endpoints, the same way in every app."""

from django.http import JsonResponse
from django.views.decorators.http import require_POST

from .validation import BadBody, parse_json_body


def json_api(permissions, refusal):
    """Session-authenticated JSON endpoint: 403 (not a login redirect) without every one of the
    permissions; the view gets the parsed body."""
    def decorator(view):
        @require_POST
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return JsonResponse({"error": "Sign in first."}, status=403)
            if not request.user.has_perms(permissions):
                return JsonResponse({"error": refusal}, status=403)
            try:
                data = parse_json_body(request.body)
            except BadBody as error:
                return JsonResponse({"errors": {"__all__": [str(error)]}}, status=400)
            return view(request, data, *args, **kwargs)
        wrapper.__name__ = view.__name__
        return wrapper
    return decorator
