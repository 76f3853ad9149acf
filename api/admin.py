from django import forms
from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey
from simple_history.admin import SimpleHistoryAdmin

from fraudsite.admin import ReadOnlyAdmin

from .models import ClientKey, Decision, Scope

# The package's own key model is not used: ClientKey adds scopes and a rate.
admin.site.unregister(APIKey)


class ClientKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ClientKey
        fields = ["name", "scopes", "rate_limit_per_minute", "expiry_date", "revoked"]


@admin.register(ClientKey)
class ClientKeyAdmin(APIKeyModelAdmin, SimpleHistoryAdmin):
    """Made here: the key is shown once, in a message after saving, and stored only as a hash.
    Revoke (tick "revoked") rather than delete, so that the key's history stays."""

    form = ClientKeyForm
    list_display = ["prefix", "name", "scopes", "rate_limit_per_minute", "created", "expiry_date", "revoked"]
    list_filter = ["revoked", "created"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["transaction_id", "client_key", "idempotency_key", "created_at"]
    search_fields = ["transaction_id", "idempotency_key"]
    list_filter = ["created_at"]
