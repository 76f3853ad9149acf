from django.urls import path

from . import views

urlpatterns = [
    path("", views.operator_page, name="operator"),
    path("api/transactions", views.api_transactions, name="api-transactions"),
    path("submit-event", views.submit_event, name="submit-event"),
    path("customers/<id:user_id>/", views.customer_view, name="customer"),
    path("health", views.health, name="health"),
    path("metrics", views.metrics, name="metrics"),
]
