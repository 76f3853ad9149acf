from django.urls import path

from . import views

urlpatterns = [
    path("", views.operator_page, name="operator"),
    path("api/transactions", views.api_transactions, name="api-transactions"),
    path("submit-event", views.submit_event, name="submit-event"),
    path("alerts/", views.alert_queue, name="alert-queue"),
    path("alerts/<str:transaction_id>/", views.alert_detail, name="alert-detail"),
    path("api/alerts/<str:transaction_id>/review", views.api_review, name="api-review"),
    path("customers/<str:user_id>/", views.customer_view, name="customer"),
    path("health", views.health, name="health"),
]
