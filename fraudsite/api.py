"""Session-authenticated JSON endpoints, the same way in every app."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET, require_POST

from .validation import BadBody, parse_json_body


def refusal_of(request, permissions, refusal):
    """The 403 answer (not a login redirect) for a request without every one of the permissions, else None."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Sign in first."}, status=403)
    if not request.user.has_perms(permissions):
        return JsonResponse({"error": refusal}, status=403)
    return None


def json_api(permissions, refusal):
    """Session-authenticated JSON endpoint (POST): 403 without every one of the permissions; the
    view gets the parsed body."""
    def decorator(view):
        @require_POST
        def wrapper(request, *args, **kwargs):
            if refused := refusal_of(request, permissions, refusal):
                return refused
            try:
                data = parse_json_body(request.body)
            except BadBody as error:
                return JsonResponse({"errors": {"__all__": [str(error)]}}, status=400)
            return view(request, data, *args, **kwargs)
        wrapper.__name__ = view.__name__
        return wrapper
    return decorator


def json_read_api(permissions, refusal):
    """Session-authenticated JSON endpoint (GET): 403 without every one of the permissions."""
    def decorator(view):
        @require_GET
        def wrapper(request, *args, **kwargs):
            return refusal_of(request, permissions, refusal) or view(request, *args, **kwargs)
        wrapper.__name__ = view.__name__
        return wrapper
    return decorator
