from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Customers"

    def ready(self):
        from . import signals  # noqa: F401  (connects the users-config publishing)
