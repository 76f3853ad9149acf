"""The proposals app's permissions, as has_perm takes them (templates use perms.proposals.*)."""

ADD_PROPOSAL = "proposals.add_proposal"  # draft and replay proposals (the maker)
CHANGE_PROPOSAL = "proposals.change_proposal"
VIEW_PROPOSAL = "proposals.view_proposal"
APPROVE_PROPOSAL = "proposals.approve_proposal"  # declared by Proposal.Meta (the checker)
