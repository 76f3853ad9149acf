"""The original demo's four customers, and a local operator login, for trying the product out."""

import secrets

from django.contrib.auth import get_user_model

from .models import Customer

DEMO_CUSTOMERS = [
    ("user_1", "Lena", "Whitaker", 10, {}),
    ("user_2", "Elias", "Monroe", 100, {"spend_factor": 5.0}),
    ("user_3", "Nina", "Langston", 1000, {"velocity_max_transactions": 5, "velocity_window_minutes": 10}),
    ("user_4", "Jordan", "Blake", 99999, {}),
]
SIGNAL_FIELDS = ["velocity_max_transactions", "velocity_window_minutes", "spend_factor", "usual_hour_start",
                 "usual_hour_end"]
OPERATOR_USERNAME = "operator"


def create_demo_customers():
    """Create or reset the demo customers. Returns them."""
    customers = []
    for user_id, first_name, last_name, max_speed, thresholds in DEMO_CUSTOMERS:
        signals = {**dict.fromkeys(SIGNAL_FIELDS), "time_zone": "UTC", **thresholds}
        customer, _ = Customer.objects.update_or_create(
            user_id=user_id,
            defaults={"first_name": first_name, "last_name": last_name, "max_speed": max_speed, "active": True,
                      **signals},
        )
        customers.append(customer)
    return customers


def create_operator(password=None):
    """Create (or reset the password of) the local superuser 'operator'. Returns the password."""
    password = password or secrets.token_urlsafe(9)
    user, _ = get_user_model().objects.get_or_create(username=OPERATOR_USERNAME)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    return password
