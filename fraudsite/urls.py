from django.contrib import admin
from django.urls import include, path, register_converter

from .converters import IdentifierConverter

# <id:...> in the apps' URL patterns; registered before they are included.
register_converter(IdentifierConverter, "id")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("transactions.urls")),
    path("", include("alerts.urls")),
    path("", include("users.urls")),
    path("", include("api.urls")),
]
