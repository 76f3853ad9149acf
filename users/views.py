from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from fraudsite.api import json_api, json_read_api

from . import notices
from .models import Customer
from .permissions import ADD_TRAVELNOTICE, VIEW_TRAVELNOTICE


def _unknown_customer(user_id):
    return JsonResponse({"error": f"No customer {user_id[:64]!r}."}, status=404)


@require_http_methods(["GET", "POST"])
def api_travel_notices(request, user_id):
    """GET /api/customers/<user_id>/travel-notices: the customer's notices, latest start first.
    POST {starts_at, ends_at, signal?, reason, region?: {lat, lng, radius_km}}: create one."""
    return (_create_notice if request.method == "POST" else _list_notices)(request, user_id=user_id)


@json_read_api([VIEW_TRAVELNOTICE], "You may not view travel notices.")
def _list_notices(request, user_id):
    customer = Customer.objects.filter(user_id=user_id).first()
    if customer is None:
        return _unknown_customer(user_id)
    now = timezone.now()
    return JsonResponse({"travel_notices": [
        {**notices.notice_message(notice), "ended": notice.ends_at <= now}
        for notice in customer.travel_notices.select_related("created_by", "approved_by").order_by("-starts_at", "-id")]})


@json_api([ADD_TRAVELNOTICE], "You may not create travel notices.")
def _create_notice(request, data, user_id):
    customer = Customer.objects.filter(user_id=user_id).first()
    if customer is None:
        return _unknown_customer(user_id)
    fields, errors = notices.parse_notice_request(data)
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    try:
        notice = notices.create_travel_notice(customer, **fields, user=request.user)
    except ValidationError as error:
        return JsonResponse({"errors": error.message_dict}, status=400)
    return JsonResponse(notices.notice_message(notice), status=201)
