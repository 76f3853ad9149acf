import functools

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from fraudsite.api import json_api
from transactions.export import csv_lines
from transactions.models import Verdict
from transactions.permissions import VIEW_VERDICT
from transactions.views import map_config
from users.forms import TravelNoticeForm
from users.models import NOTICE_SCOPE_MAX_DAYS, NOTICE_SCOPE_MAX_RADIUS_KM
from users.permissions import ADD_TRAVELNOTICE

from . import analytics, cases, claims, deadlines, reviews, team
from .models import DECISIONS, Alert, Case, ReviewStatus
from .permissions import ASSIGN_ALERT, REVIEW_ALERT, VIEW_TEAM

QUEUE_SIZE = 200


@login_required
@permission_required(VIEW_VERDICT, raise_exception=True)
def alert_queue(request):
    """GET /alerts/?status=open (default: undecided or needing follow-up) | all | <a review status>."""
    status = request.GET.get("status", "open")
    if status == "open":
        queue = deadlines.with_waiting_since(reviews.open_alerts()).order_by("waiting_since", "pk")
    elif status == "all":
        # (every alert's verdict is a FRAUD one: said, so the planner reads the newest from
        # the verdicts' partial index of alerts by arrival)
        queue = Alert.objects.filter(verdict__is_fraud=True).order_by("-verdict__received_at")
    elif status in DECISIONS:
        queue = Alert.objects.filter(review_status=status).order_by("-reviewed_at")
    else:
        return render(request, "alerts/alert_queue.html", {"error": f"Unknown status {status!r}."}, status=400)
    if request.GET.get("held") == "mine":
        queue = queue.filter(holder=request.user)
    counts = reviews.counts_by_status()
    alerts = list(queue.select_related("verdict__customer", "holder", "case")[:QUEUE_SIZE])
    now = timezone.now()
    for alert in alerts:
        alert.standing = deadlines.standing(alert, now) if alert.review_status in reviews.OPEN_STATUSES else ""
        alert.standing_label = deadlines.LABELS.get(alert.standing, "")
    return render(request, "alerts/alert_queue.html", {
        "alerts": alerts, "status": status, "held": request.GET.get("held", ""),
        "can_review": request.user.has_perm(REVIEW_ALERT),
        "counts": [(value, label, counts[value]) for value, label in ReviewStatus.choices],
        "open_count": sum(counts[value] for value in reviews.OPEN_STATUSES),
        "decisions": DECISIONS,
    })


@login_required
@permission_required(VIEW_VERDICT, raise_exception=True)
def alert_detail(request, transaction_id):
    """GET: the alert, its reasons and its decision history. POST (review permission): decide."""
    verdict = get_object_or_404(Verdict, transaction_id=transaction_id)
    errors, status = {}, 200
    if request.method == "POST":
        if not request.user.has_perm(REVIEW_ALERT):
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
    alert = Alert.objects.select_related("holder", "case").filter(pk=verdict.pk).first()
    can_assign = request.user.has_perm(ASSIGN_ALERT)
    held_by_other = bool(alert and reviews.held_by_others([alert], request.user))
    return render(request, "alerts/alert_detail.html", {
        "verdict": verdict, "reviews": verdict.reviews.all(), "errors": errors, "decisions": DECISIONS,
        "can_review": verdict.is_fraud and request.user.has_perm(REVIEW_ALERT),
        "may_decide": not held_by_other or can_assign, "overriding": held_by_other and can_assign,
        "posted": request.POST, "alert": alert, "events": alert.events.all() if alert else [],
        "is_open": alert is not None and alert.review_status in reviews.OPEN_STATUSES,
        "can_assign": can_assign, "colleagues": claims.reviewers() if can_assign else [],
    }, status=status)


@json_api([VIEW_VERDICT, REVIEW_ALERT], "You may not review alerts.")
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
        status = 409 if isinstance(error, reviews.HeldByColleague) else 400
        return JsonResponse({"errors": {"__all__": [str(error)]}}, status=status)
    return JsonResponse(reviews.review_message(review))


def back(request):
    """Where a form asked to return to (a path of this site only), else the queue."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts=None) and target.startswith("/"):
        return target
    return reverse("alert-queue")


def reviewer_action(view):
    """A POST by someone who may review alerts; a refused action is shown as a message on the
    page it came from, never a server error."""
    @functools.wraps(view)
    @login_required
    @permission_required([VIEW_VERDICT, REVIEW_ALERT], raise_exception=True)
    @require_POST
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except reviews.ReviewError as error:
            messages.error(request, str(error))
            return redirect(back(request))
    return wrapper


@reviewer_action
def take_next(request):
    """POST /alerts/take-next: the oldest open alert nobody holds becomes the user's."""
    alert = claims.take_next(request.user)
    if alert is None:
        messages.info(request, "No open alert is waiting: every one is held or decided.")
        return redirect("alert-queue")
    return redirect("alert-detail", transaction_id=alert.verdict.transaction_id)


@reviewer_action
def assign(request, transaction_id):
    """POST /alerts/<id>/assign {holder}: take the alert (holder = oneself) or give it to a colleague."""
    verdict = get_object_or_404(Verdict, transaction_id=transaction_id)
    username = request.POST.get("holder") or request.user.get_username()
    holder = get_user_model().objects.filter(username=username).first()
    if holder is None:
        raise reviews.ReviewError(f"No user {username!r}.")
    claims.assign(verdict.pk, holder, request.user)
    return redirect("alert-detail", transaction_id=transaction_id)


@reviewer_action
def release(request, transaction_id):
    """POST /alerts/<id>/release: back to the queue for anyone to take."""
    verdict = get_object_or_404(Verdict, transaction_id=transaction_id)
    claims.release(verdict.pk, request.user)
    return redirect("alert-detail", transaction_id=transaction_id)


@reviewer_action
def bulk_review(request):
    """POST /alerts/bulk {alert: [transaction ids], decision, comment}: one decision, one audited review each."""
    chosen = request.POST.getlist("alert")
    pks = list(Verdict.objects.filter(transaction_id__in=chosen).values_list("pk", flat=True))
    if len(pks) != len(set(chosen)):
        raise reviews.ReviewError("Some of the chosen alerts do not exist.")
    decided = reviews.review_alerts(pks, request.POST.get("decision", ""), request.POST.get("comment", ""), request.user)
    messages.success(request, f"{len(decided)} alerts: {decided[0].get_decision_display()}.")
    return redirect(back(request))


@reviewer_action
def open_case(request, transaction_id):
    """POST /alerts/<id>/case: the alert's customer's open case (opened now if there is none)."""
    verdict = get_object_or_404(Verdict, transaction_id=transaction_id)
    if verdict.customer is None:
        raise reviews.ReviewError("This alert's customer is unknown: there is nobody to open a case for.")
    case, _ = cases.open_case(verdict.customer, request.user)
    return redirect("case-detail", pk=case.pk)


@login_required
@permission_required(VIEW_VERDICT, raise_exception=True)
def case_detail(request, pk):
    """GET /cases/<pk>/: the case, its alerts and notes. POST (review permission): a note or the decision."""
    case = get_object_or_404(Case.objects.select_related("customer", "owner"), pk=pk)
    notice_form, status = TravelNoticeForm(), 200
    if request.method == "POST" and "reason" in request.POST:  # a travel notice for the customer
        if not request.user.has_perm(ADD_TRAVELNOTICE):
            raise PermissionDenied
        notice_form = TravelNoticeForm(request.POST)
        if notice := notice_form.create(case.customer, request.user):
            messages.success(request, f"Travel notice until {notice.ends_at:%Y-%m-%d %H:%M}: " + (
                "beyond one person's scope, it applies once someone else approves it."
                if notice.approval == notice.Approval.PENDING else "published to the job."))
            return redirect("case-detail", pk=case.pk)
        status = 400
    elif request.method == "POST":
        return _act_on_case(request, case)
    return render(request, "alerts/case_detail.html", {
        "case": case, "alerts": case.alerts.select_related("verdict", "holder").order_by("verdict__received_at"),
        "notes": case.notes.all(), "decisions": {value: DECISIONS[value] for value in cases.CASE_DECISIONS},
        "can_review": request.user.has_perm(REVIEW_ALERT) and case.status == Case.Status.OPEN,
        "may_decide": cases.may_decide(case, request.user),
        "notices": case.customer.travel_notices.order_by("-ends_at"), "notice_form": notice_form,
        "can_add_notice": request.user.has_perm(ADD_TRAVELNOTICE), "map_config": map_config(),
        "scope_days": NOTICE_SCOPE_MAX_DAYS, "scope_radius_km": NOTICE_SCOPE_MAX_RADIUS_KM,
    }, status=status)


@reviewer_action
def _act_on_case(request, case):
    if "note" in request.POST:
        cases.add_note(case, request.POST["note"], request.user)
    else:
        decided = cases.decide_case(case.pk, request.POST.get("decision", ""), request.POST.get("comment", ""),
                                    request.user)
        messages.success(request, f"Case decided: {len(decided)} alerts closed.")
    return redirect("case-detail", pk=case.pk)


@login_required
@permission_required(VIEW_TEAM, raise_exception=True)
def team_view(request):
    """GET /team/: per analyst, held and decided alerts; overdue alerts; median time to decision."""
    return render(request, "alerts/team.html", team.workload())


@login_required
@permission_required(VIEW_VERDICT, raise_exception=True)
def analytics_page(request):
    """GET /analytics/?from=YYYY-MM-DD&to=YYYY-MM-DD: rule quality per reason code, co-firing, daily trend."""
    context = {"max_days": analytics.MAX_DAYS, "params": request.GET}
    if not analytics.supported():
        return render(request, "alerts/analytics.html", {**context, "error": analytics.NEEDS_POSTGRESQL})
    try:
        period = analytics.period_from(request.GET)
    except analytics.PeriodError as error:
        return render(request, "alerts/analytics.html", {**context, "error": str(error)}, status=400)
    reasons, cofiring, trend = (analytics.reason_table(period), analytics.cofiring_table(period),
                                analytics.trend_table(period))
    return render(request, "alerts/analytics.html", {
        **context, "period": period, "reasons": reasons, "cofiring": analytics.cofiring_rows(cofiring),
        "matrix_reasons": cofiring["reasons"],
        "trend_rows": [(day, [trend["counts"][reason][n] for reason in trend["reasons"]])
                       for n, day in enumerate(trend["days"])],
        "trend_reasons": trend["reasons"],
        "chart_data": {"reasons": reasons, "trend": {**trend, "days": [day.isoformat() for day in trend["days"]]}},
    })


@login_required
@permission_required(VIEW_VERDICT, raise_exception=True)
def analytics_csv(request, table):
    """GET /analytics/<reasons|cofiring|trend>.csv?from=..&to=..: the page's table as CSV."""
    if table not in analytics.CSV_TABLES:
        raise Http404(f"No analytics table {table!r}.")
    if not analytics.supported():
        return HttpResponse(analytics.NEEDS_POSTGRESQL, status=503, content_type="text/plain")
    try:
        period = analytics.period_from(request.GET)
    except analytics.PeriodError as error:
        return HttpResponse(str(error), status=400, content_type="text/plain")
    header, rows = analytics.CSV_TABLES[table](period)
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="analytics-{table}-{period.first}-{period.last}.csv"'
    return response
