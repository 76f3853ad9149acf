from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView

from . import views

urlpatterns = [
    path("api/v1/decisions", views.DecisionView.as_view(), name="api-decisions"),
    path("api/v1/openapi.json", SpectacularJSONAPIView.as_view(), name="api-openapi"),
]
