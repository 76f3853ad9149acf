from django.urls import path, register_converter

from fraudsite.converters import IdentifierConverter

from . import views

register_converter(IdentifierConverter, "id")

urlpatterns = [
    path("", views.operator_page, name="operator"),
    path("api/transactions", views.api_transactions, name="api-transactions"),
    path("submit-event", views.submit_event, name="submit-event"),
    path("alerts/", views.alert_queue, name="alert-queue"),
    path("alerts/<id:transaction_id>/", views.alert_detail, name="alert-detail"),
    path("api/alerts/<id:transaction_id>/review", views.api_review, name="api-review"),
    path("customers/<id:user_id>/", views.customer_view, name="customer"),
    path("health", views.health, name="health"),
]
