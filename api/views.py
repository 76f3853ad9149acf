"""The machine API (/api/v1/): the decision operation as the OpenAPI document describes it."""

import time

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from fraudsite.topics import CARD_TRANSACTIONS
from fraudsite.validation import BadBody, parse_json_body
from transactions import decisions
from transactions.verdicts import MEASUREMENT_FIELDS

from .authentication import ClientKeyAuthentication, PerKeyRateThrottle, scope_required
from .endpoint import answer_from_synchronous_code
from .models import Scope


class TransactionRequest(serializers.Serializer):
    """What the card-authorization path sends (validated by transactions.submission, like every
    other way in)."""

    user_id = serializers.CharField(help_text="The customer's id (the Kafka key).")
    amount = serializers.FloatField(help_text="> 0 and at most the TRANSACTION_MAX_AMOUNT setting.")
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lng = serializers.FloatField(min_value=-180, max_value=180)
    transaction_id = serializers.CharField(required=False, help_text="1 to 64 of A-Z a-z 0-9 _ . : - (made if absent).")
    timestamp = serializers.CharField(required=False, help_text="Epoch milliseconds or ISO-8601 with a zone; default now.")


# With the transaction's optional context (transactions/context.py), as its schema documents it.
DecisionRequest = type("DecisionRequest", (TransactionRequest,), {
    field["name"]: serializers.CharField(required=False, allow_null=True, help_text=field["doc"])
    for field in CARD_TRANSACTIONS.optional_fields()})


# The serializer field of each Avro type a measurement may have.
AVRO_FIELDS = {"double": serializers.FloatField, "int": serializers.IntegerField, "long": serializers.IntegerField,
               "string": serializers.CharField}


def answer_field(schema_field):
    """A verdict schema field as an answer's serializer field: nullable when its type is a union with null."""
    kinds = schema_field["type"] if isinstance(schema_field["type"], list) else [schema_field["type"]]
    (kind,) = [k for k in kinds if k != "null"]
    return AVRO_FIELDS[kind](allow_null="null" in kinds, help_text=schema_field.get("doc", ""))


# The verdict's measurements as its schema declares them (transactions.verdicts.MEASUREMENT_FIELDS).
Measurements = type("Measurements", (serializers.Serializer,),
                    {field["name"]: answer_field(field) for field in MEASUREMENT_FIELDS})


class DecisionAnswer(serializers.Serializer):
    transaction_id = serializers.CharField()
    decision = serializers.ChoiceField(decisions.OUTCOMES)
    timed_out = serializers.BooleanField(help_text="No verdict within the budget: the answer is the fallback "
                                                   "(DECISION_FALLBACK), and the verdict is stored when it comes.")
    shed = serializers.BooleanField(required=False, help_text="The web process was at its admission limit: the "
                                    "answer is the fallback at once, and nothing was sent (absent otherwise).")
    score = serializers.FloatField(required=False, help_text="The sum of the weights of the reasons that fired.")
    status = serializers.CharField(required=False)
    reasons = serializers.ListField(child=serializers.CharField(), required=False)
    measurements = Measurements(required=False)


class Errors(serializers.Serializer):
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)
    error = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)


EXAMPLES = [
    OpenApiExample("An ordinary payment", request_only=True,
                   value={"user_id": "user_1", "amount": 42.5, "lat": 51.5074, "lng": -0.1278}),
    OpenApiExample("With your own transaction id", request_only=True,
                   value={"user_id": "user_2", "amount": 12.0, "lat": 48.8566, "lng": 2.3522,
                          "transaction_id": "auth-000123"}),
    OpenApiExample("With the card, merchant and channel", request_only=True,
                   value={"user_id": "user_1", "amount": 89.9, "lat": 51.5074, "lng": -0.1278,
                          "card_token": "c1f0e8b2a9d4476f8e3b5a7c9d2e1f04", "card_bin": "412345",
                          "merchant_id": "m-4471",
                          "merchant_category_code": "5411", "merchant_country": "GB", "channel": "ecommerce",
                          "device_id": "dev-93a1", "ip_address": "203.0.113.7"}),
    OpenApiExample("A field out of range", request_only=True, status_codes=["400"],
                   value={"user_id": "user_1", "amount": 10, "lat": 123, "lng": 0}),
]


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with the site's bounds (fraudsite.validation): a body nested deeper than
    any real one is a 400, not a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return parse_json_body(stream.read())
        except BadBody as error:
            raise ParseError(str(error)) from None


class DecisionView(APIView):
    parser_classes = [BoundedJSONParser]
    authentication_classes = [ClientKeyAuthentication]
    permission_classes = [scope_required(Scope.DECISIONS)]
    throttle_classes = [PerKeyRateThrottle]

    @extend_schema(
        operation_id="decide", summary="Decide on a card transaction within the time budget",
        request=DecisionRequest, examples=EXAMPLES,
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
                                     description="A retry with the same key gets the first answer and sends "
                                                 "nothing (at most 255 characters).")],
        responses={200: DecisionAnswer, 400: Errors, 401: Errors, 403: Errors, 409: Errors, 413: Errors,
                   415: Errors, 422: Errors, 429: Errors,
                   503: OpenApiResponse(Errors, description="Kafka or the database unavailable: nothing was sent.")},
    )
    def post(self, request):
        """The same answer as api/endpoint.py gives under ASGI, for callers that reach Django's
        handler (Django's test client, a WSGI server)."""
        status, payload, headers = answer_from_synchronous_code(
            request.auth, request.headers.get("Idempotency-Key"), request.data, time.monotonic())
        return Response(payload, status=status, headers=headers)
