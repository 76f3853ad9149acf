import json

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from users.models import Customer

from . import submission
from .alerts import verdict_message
from .consumers import VIEW_PERMISSION
from .models import Verdict

ADD_PERMISSION = "transactions.add_transaction"
HISTORY_SIZE = 200


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def operator_page(request):
    recent = Verdict.objects.order_by("-received_at")[:HISTORY_SIZE]
    return render(request, "transactions/operator.html", {
        "customers": Customer.objects.filter(active=True),
        "history": [verdict_message(verdict) for verdict in reversed(recent)],
        "map_config": {"tileUrl": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION},
    })


def _json_api(view):
    """Session-authenticated JSON endpoint: 403 (not a login redirect) without the add permission."""
    @require_POST
    def wrapper(request):
        if not request.user.is_authenticated:
            return JsonResponse({"error": "Sign in first."}, status=403)
        if not request.user.has_perm(ADD_PERMISSION):
            return JsonResponse({"error": "You may not submit transactions."}, status=403)
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return JsonResponse({"errors": {"__all__": ["The body must be JSON."]}}, status=400)
        return view(request, data)
    wrapper.__name__ = view.__name__
    return wrapper


def _submit(request, data, field_names=None):
    cleaned, errors = submission.validate(data)
    if errors:
        names = field_names or {}
        return JsonResponse({"errors": {names.get(key, key): value for key, value in errors.items()}}, status=400)
    try:
        submitted = submission.submit(cleaned, request.user)
    except submission.DuplicateTransaction:
        return JsonResponse({"errors": {"transaction_id": ["A transaction with this id was already submitted."]}},
                            status=409)
    except submission.KafkaUnavailable as error:
        return JsonResponse({"error": f"Kafka is unavailable, nothing was sent: {error}"}, status=503)
    return JsonResponse({"transaction_id": submitted.transaction_id, "status": "accepted"}, status=202)


@_json_api
def api_transactions(request, data):
    """POST /api/transactions {user_id, amount, lat, lng, transaction_id?, timestamp?}."""
    return _submit(request, data)


LEGACY_FIELDS = {"latitude": "lat", "longitude": "lng"}
LEGACY_NAMES = {ours: theirs for theirs, ours in LEGACY_FIELDS.items()}


@_json_api
def submit_event(request, data):
    """POST /submit-event: the original demo's body {transaction_id, user_id, amount, latitude, longitude, timestamp}."""
    if isinstance(data, dict):
        data = {LEGACY_FIELDS.get(key, key): value for key, value in data.items() if key not in ("lat", "lng")}
        if not isinstance(data.get("timestamp"), (str, type(None))):
            return JsonResponse({"errors": {"timestamp": ["Must be an ISO-8601 string such as 2026-01-31T12:00:00Z."]}},
                                status=400)
    return _submit(request, data, LEGACY_NAMES)
