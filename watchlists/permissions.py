"""The watchlists app's permissions, as has_perm takes them."""

VIEW_LISTENTRY = "watchlists.view_listentry"
ADD_LISTENTRY = "watchlists.add_listentry"
CHANGE_LISTENTRY = "watchlists.change_listentry"
