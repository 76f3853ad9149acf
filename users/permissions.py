"""The users app's permissions, as has_perm takes them (templates use perms.users.*)."""

ADD_PROPOSAL = "users.add_proposal"  # draft and replay proposals (the maker)
CHANGE_PROPOSAL = "users.change_proposal"
APPROVE_PROPOSAL = "users.approve_proposal"  # declared by Proposal.Meta (the checker)
VIEW_TRAVELNOTICE = "users.view_travelnotice"
ADD_TRAVELNOTICE = "users.add_travelnotice"
APPROVE_TRAVELNOTICE = "users.approve_travelnotice"  # declared by TravelNotice.Meta
