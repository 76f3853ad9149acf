"""The alerts app's permissions, as has_perm takes them (templates use perms.alerts.*); each is
declared by Alert.Meta."""

# Decide alerts and cases (analysts); take, release and be assigned alerts.
REVIEW_ALERT = "alerts.review_alert"
# Team leads: assign alerts to colleagues, and decide alerts and cases that a colleague holds.
ASSIGN_ALERT = "alerts.assign_alert"
VIEW_TEAM = "alerts.view_team"
