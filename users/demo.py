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
OPERATOR_USERNAME = "operator"


# Resetting a demo customer also resets the signals it does not use (to off).
SIGNAL_DEFAULTS = {name: Customer._meta.get_field(name).get_default() for name in Customer.SIGNAL_FIELDS}


def create_demo_customers():
    """Create or reset the demo customers. Returns them."""
    customers = []
    for user_id, first_name, last_name, max_speed, thresholds in DEMO_CUSTOMERS:
        signals = {**SIGNAL_DEFAULTS, **thresholds}
        customer, _ = Customer.objects.update_or_create(
            user_id=user_id,
            defaults={"first_name": first_name, "last_name": last_name, "max_speed": max_speed, "active": True,
                      **signals},
        )
        customers.append(customer)
    return customers


def operator_exists():
    return get_user_model().objects.filter(username=OPERATOR_USERNAME).exists()


def create_operator(password=None):
    """Create (or reset the password of) the local superuser 'operator'. Returns the password."""
    password = password or secrets.token_urlsafe(9)
    user, _ = get_user_model().objects.get_or_create(username=OPERATOR_USERNAME)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    return password
