"""The accounts app's permissions, as has_perm takes them."""

CHANGE_ROLE = "accounts.change_role"  # declared by Account.Meta
