"""The users app's permissions, as has_perm takes them (templates use perms.users.*)."""

VIEW_TRAVELNOTICE = "users.view_travelnotice"
ADD_TRAVELNOTICE = "users.add_travelnotice"
APPROVE_TRAVELNOTICE = "users.approve_travelnotice"  # declared by TravelNotice.Meta
