from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_GET, require_POST

from fraudsite.validation import BadBody, parse_json_body
from users.models import Customer

from . import reviews, submission
from .alerts import verdict_message
from .consumers import VIEW_PERMISSION
from .health import cached_report_off_thread as health_report
from .models import ReviewStatus, Verdict

ADD_PERMISSION = "transactions.add_transaction"
# Natural Earth's countries at 1:50m, from the world-atlas package (see STATICFILES_DIRS).
OUTLINES = "basemap/world-atlas/countries-50m.json"
HISTORY_SIZE = 200


def map_config():
    """What the maps' scripts need: the outlines drawn without network, and the tile server, if any."""
    return {"outlinesUrl": static(OUTLINES), "tileUrl": settings.MAP_TILE_URL,
            "attribution": settings.MAP_TILE_ATTRIBUTION}


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def operator_page(request):
    recent = Verdict.objects.order_by("-received_at")[:HISTORY_SIZE]
    return render(request, "transactions/operator.html", {
        "customers": Customer.objects.filter(active=True),
        "history": [verdict_message(verdict) for verdict in reversed(recent)],
        "map_config": map_config(),
        "can_review": request.user.has_perm(reviews.REVIEW_PERMISSION),
        "decisions": reviews.DECISIONS,
    })


def _json_api(permissions, refusal):
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


submit_api = _json_api([ADD_PERMISSION], "You may not submit transactions.")


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
    """POST /api/transactions {user_id, amount, lat, lng, transaction_id?, timestamp?}."""
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


# --- alert review -------------------------------------------------------------------------------

QUEUE_SIZE = 200
CUSTOMER_HISTORY_SIZE = 200


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def alert_queue(request):
    """GET /alerts/?status=open (default: undecided or needing follow-up) | all | <a review status>."""
    status = request.GET.get("status", "open")
    if status == "open":
        queue = reviews.open_alerts()
    elif status == "all":
        queue = reviews.alerts().order_by("-received_at")
    elif status in reviews.DECISIONS:
        queue = reviews.alerts().filter(review_status=status).order_by("-reviewed_at")
    else:
        return render(request, "transactions/alert_queue.html", {"error": f"Unknown status {status!r}."}, status=400)
    counts = reviews.counts_by_status()
    return render(request, "transactions/alert_queue.html", {
        "alerts": queue.select_related("customer")[:QUEUE_SIZE], "status": status,
        "counts": [(value, label, counts[value]) for value, label in ReviewStatus.choices],
        "open_count": sum(counts[value] for value in reviews.OPEN_STATUSES),
        "decisions": reviews.DECISIONS,
    })


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def alert_detail(request, transaction_id):
    """GET: the alert, its reasons and its decision history. POST (review permission): decide."""
    verdict = get_object_or_404(Verdict, transaction_id=transaction_id)
    errors, status = {}, 200
    if request.method == "POST":
        if not request.user.has_perm(reviews.REVIEW_PERMISSION):
            raise PermissionDenied
        decision, comment = request.POST.get("decision", ""), request.POST.get("comment", "")
        errors = reviews.validate_review(decision, comment)
        if not errors:
            try:
                review = reviews.review_alert(verdict.pk, decision, comment, request.user)
            except reviews.ReviewError as error:
                errors = {"__all__": [str(error)]}
            else:
                messages.success(request, f"{verdict.transaction_id}: {review.get_decision_display()}.")
                return redirect("alert-detail", transaction_id=verdict.transaction_id)
        status = 400
    return render(request, "transactions/alert_detail.html", {
        "verdict": verdict, "reviews": verdict.reviews.all(), "errors": errors, "decisions": reviews.DECISIONS,
        "can_review": verdict.is_fraud and request.user.has_perm(reviews.REVIEW_PERMISSION),
        "posted": request.POST,
    }, status=status)


@_json_api([VIEW_PERMISSION, reviews.REVIEW_PERMISSION], "You may not review alerts.")
def api_review(request, data, transaction_id):
    """POST /api/alerts/<transaction_id>/review {decision, comment}: the map page's review."""
    verdict = Verdict.objects.filter(transaction_id=transaction_id).first()
    if verdict is None:
        return JsonResponse({"error": f"No verdict for transaction {transaction_id}."}, status=404)
    if not isinstance(data, dict):
        return JsonResponse({"errors": {"__all__": ["The body must be a JSON object."]}}, status=400)
    errors = reviews.validate_review(data.get("decision"), data.get("comment"))
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    try:
        review = reviews.review_alert(verdict.pk, data["decision"], data["comment"], request.user)
    except reviews.ReviewError as error:
        return JsonResponse({"errors": {"__all__": [str(error)]}}, status=400)
    return JsonResponse(reviews.review_message(review))


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def customer_view(request, user_id):
    """The customer's recent path on a map and the timeline of their verdicts with reasons."""
    customer = get_object_or_404(Customer, user_id=user_id)
    recent = list(Verdict.objects.filter(user_id=user_id).order_by("-timestamp")[:CUSTOMER_HISTORY_SIZE])
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
