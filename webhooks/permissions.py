"""The webhooks app's permissions, as has_perm takes them."""

CHANGE_DELIVERY = "webhooks.change_delivery"  # "retry now" in the deliveries' admin
