from django.urls import path

from . import views

urlpatterns = [
    path("api/customers/<id:user_id>/travel-notices", views.api_travel_notices, name="api-travel-notices"),
]
