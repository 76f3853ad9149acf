"""The alerts app's permissions, as has_perm takes them (templates use perms.alerts.*); both are
declared by Alert.Meta."""

# Team leads: assign alerts to colleagues, and decide alerts and cases that a colleague holds.
ASSIGN_ALERT = "alerts.assign_alert"
VIEW_TEAM = "alerts.view_team"
