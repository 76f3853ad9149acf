from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from fraudsite.admin import HistoryAdmin, ReadOnlyAdmin

from .models import ClientKey, Decision, Scope

# The package's own key model is not used: ClientKey adds scopes and a rate.
admin.site.unregister(APIKey)


class ClientKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ClientKey
        fields = ["name", "scopes", "rate_limit_per_minute", "expiry_date", "revoked"]


@admin.register(ClientKey)
class ClientKeyAdmin(APIKeyModelAdmin, HistoryAdmin):
    """Made here: the key is shown once, on the page answering the save, and stored only as a hash.
    Revoke (tick "revoked") rather than delete, so that the key's history stays."""

    form = ClientKeyForm
    list_display = ["prefix", "name", "scopes", "rate_limit_per_minute", "created", "expiry_date", "revoked"]
    list_filter = ["revoked", "created"]

    def save_model(self, request, obj, form, change):
        # Not the package's save_model: it puts the key in a message, which travels in a cookie.
        if not change:
            obj.new_key = ClientKey.objects.assign_key(obj)
        obj.save()

    def response_add(self, request, obj, post_url_continue=None):
        # Like a webhook's secret: this page only, never a message (a cookie), a log or the history.
        return TemplateResponse(request, "api/key_created.html", {
            **self.admin_site.each_context(request), "client_key": obj, "key": obj.new_key, "opts": self.opts,
            "title": "API key created: copy it now"})

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["transaction_id", "client_key", "idempotency_key", "created_at"]
    search_fields = ["transaction_id", "idempotency_key"]
    list_filter = ["created_at"]
