from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.templatetags.static import static
from django.views.decorators.http import require_GET

from fraudsite import metrics as prometheus
from fraudsite.api import json_api
from users.models import Customer

from . import submission
from .broadcast import verdict_message
from .health import cached_report_off_thread as health_report
from .models import Verdict
from .permissions import ADD_TRANSACTION, VIEW_VERDICT

# Natural Earth's countries at 1:50m, from the world-atlas package (see STATICFILES_DIRS).
OUTLINES = "basemap/world-atlas/countries-50m.json"
HISTORY_SIZE = 200


def map_config():
    """What the maps' scripts need: the outlines drawn without network, and the tile server, if any."""
    return {"outlinesUrl": static(OUTLINES), "tileUrl": settings.MAP_TILE_URL,
            "attribution": settings.MAP_TILE_ATTRIBUTION}


@login_required
@permission_required(VIEW_VERDICT, raise_exception=True)
def operator_page(request):
    recent = Verdict.objects.with_alert_state().order_by("-received_at")[:HISTORY_SIZE]
    return render(request, "transactions/operator.html", {
        "customers": Customer.objects.filter(active=True),
        "history": [verdict_message(verdict) for verdict in reversed(recent)],
        "map_config": map_config(),
    })


submit_api = json_api([ADD_TRANSACTION], "You may not submit transactions.")


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


@submit_api
def api_transactions(request, data):
    """POST /api/transactions {user_id, amount, lat, lng, transaction_id?, timestamp?, and the optional
    context of transactions/context.py: card_token?, merchant_id?, ...}."""
    return _submit(request, data)


LEGACY_FIELDS = {"latitude": "lat", "longitude": "lng"}
LEGACY_NAMES = {ours: theirs for theirs, ours in LEGACY_FIELDS.items()}


@submit_api
def submit_event(request, data):
    """POST /submit-event: the original demo's body {transaction_id, user_id, amount, latitude, longitude, timestamp}."""
    if isinstance(data, dict):
        data = {LEGACY_FIELDS.get(key, key): value for key, value in data.items() if key not in ("lat", "lng")}
        if not isinstance(data.get("timestamp"), (str, type(None))):
            return JsonResponse({"errors": {"timestamp": ["Must be an ISO-8601 string such as 2026-01-31T12:00:00Z."]}},
                                status=400)
    return _submit(request, data, LEGACY_NAMES)


CUSTOMER_HISTORY_SIZE = 200


@login_required
@permission_required(VIEW_VERDICT, raise_exception=True)
def customer_view(request, user_id):
    """The customer's recent path on a map and the timeline of their verdicts with reasons."""
    customer = get_object_or_404(Customer, user_id=user_id)
    recent = list(Verdict.objects.filter(user_id=user_id).with_alert_state().order_by("-timestamp")
                  [:CUSTOMER_HISTORY_SIZE])
    return render(request, "transactions/customer.html", {
        "customer": customer, "verdicts": recent,
        "path": [verdict_message(verdict) for verdict in reversed(recent)],
        "map_config": map_config(),
    })


@require_GET
async def health(request):
    """GET, no sign-in (monitors, load balancers): every part's reachability and the verdict lag.
    503 only when this web server cannot serve (its database is unreachable); the pipeline's state
    (ok, lagging, down) is in the body. Asynchronous: its waits never hold up other requests."""
    result = await sync_to_async(health_report, thread_sensitive=False)()
    return JsonResponse(result, status=503 if not result["checks"]["database"] else 200,
                        headers={"Cache-Control": "no-store"})


@require_GET
async def metrics(request):
    """Prometheus' scrape: the decision path's counters and histogram, and the health report's
    lags. Only for METRICS_ALLOWED_IPS (the monitoring system beside the site)."""
    if request.META.get("REMOTE_ADDR") not in settings.METRICS_ALLOWED_IPS:
        return HttpResponseForbidden("Metrics are served to METRICS_ALLOWED_IPS only.", content_type="text/plain")
    text = await sync_to_async(prometheus.exposition, thread_sensitive=False)(health_report)
    return HttpResponse(text, content_type="text/plain; version=0.0.4; charset=utf-8",
                        headers={"Cache-Control": "no-store"})
