from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from fraudsite.api import json_api
from transactions.consumers import VIEW_PERMISSION
from transactions.models import DECISIONS, REVIEW_PERMISSION, ReviewStatus, Verdict

from . import reviews

QUEUE_SIZE = 200


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def alert_queue(request):
    """GET /alerts/?status=open (default: undecided or needing follow-up) | all | <a review status>."""
    status = request.GET.get("status", "open")
    if status == "open":
        queue = reviews.open_alerts()
    elif status == "all":
        queue = reviews.alerts().order_by("-received_at")
    elif status in DECISIONS:
        queue = reviews.alerts().filter(review_status=status).order_by("-reviewed_at")
    else:
        return render(request, "alerts/alert_queue.html", {"error": f"Unknown status {status!r}."}, status=400)
    counts = reviews.counts_by_status()
    return render(request, "alerts/alert_queue.html", {
        "alerts": queue.select_related("customer")[:QUEUE_SIZE], "status": status,
        "counts": [(value, label, counts[value]) for value, label in ReviewStatus.choices],
        "open_count": sum(counts[value] for value in reviews.OPEN_STATUSES),
        "decisions": DECISIONS,
    })


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
def alert_detail(request, transaction_id):
    """GET: the alert, its reasons and its decision history. POST (review permission): decide."""
    verdict = get_object_or_404(Verdict, transaction_id=transaction_id)
    errors, status = {}, 200
    if request.method == "POST":
        if not request.user.has_perm(REVIEW_PERMISSION):
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
    return render(request, "alerts/alert_detail.html", {
        "verdict": verdict, "reviews": verdict.reviews.all(), "errors": errors, "decisions": DECISIONS,
        "can_review": verdict.is_fraud and request.user.has_perm(REVIEW_PERMISSION),
        "posted": request.POST,
    }, status=status)


@json_api([VIEW_PERMISSION, REVIEW_PERMISSION], "You may not review alerts.")
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
