from django.urls import path

from . import views

urlpatterns = [
    path("alerts/", views.alert_queue, name="alert-queue"),
    path("alerts/<id:transaction_id>/", views.alert_detail, name="alert-detail"),
    path("api/alerts/<id:transaction_id>/review", views.api_review, name="api-review"),
]
