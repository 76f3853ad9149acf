from django.urls import path

from . import views

urlpatterns = [
    path("alerts/", views.alert_queue, name="alert-queue"),
    path("alerts/take-next", views.take_next, name="alert-take-next"),
    path("alerts/bulk", views.bulk_review, name="alert-bulk-review"),
    path("team/", views.team_view, name="alert-team"),
    path("analytics/", views.analytics_page, name="analytics"),
    path("analytics/<slug:table>.csv", views.analytics_csv, name="analytics-csv"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("alerts/<id:transaction_id>/", views.alert_detail, name="alert-detail"),
    path("alerts/<id:transaction_id>/assign", views.assign, name="alert-assign"),
    path("alerts/<id:transaction_id>/release", views.release, name="alert-release"),
    path("alerts/<id:transaction_id>/case", views.open_case, name="alert-open-case"),
    path("api/alerts/<id:transaction_id>/review", views.api_review, name="api-review"),
]
