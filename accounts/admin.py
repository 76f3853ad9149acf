"""Sign-in accounts in the admin, under the rules of accounts/rules.py: Django's own user admin
lets anyone with "change user" tick superuser status, staff status, any group and any permission,
and set anyone's password."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group, User
from django.db.models import Q

from fraudsite.admin import ReadOnlyAdmin

from . import rules
from .models import RoleChange

admin.site.unregister(User)

class AccountChangeForm(UserChangeForm):
    roles = forms.ModelMultipleChoiceField(
        Group.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Only roles whose every permission you hold can be granted or taken away.")
    grantable = Group.objects.none()  # the roles the signed-in user may grant: set by AccountAdmin.get_form

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.held = set(self.instance.groups.all())
        self.fields["roles"].queryset = Group.objects.filter(
            Q(pk__in=self.grantable) | Q(pk__in=[group.pk for group in self.held])).order_by("name")
        self.fields["roles"].initial = list(self.held)

    def clean_roles(self):
        roles = set(self.cleaned_data["roles"])
        if (roles ^ self.held) - set(self.grantable):
            raise forms.ValidationError("You may grant or take away only roles you hold, with the right to change roles.")
        return roles


@admin.register(User)
class AccountAdmin(UserAdmin):
    form = AccountChangeForm
    list_display = ["username", "first_name", "last_name", "is_staff", "roles"]

    @admin.display(description="roles")
    def roles(self, account):
        return ", ".join(group.name for group in account.groups.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def has_change_permission(self, request, obj=None):
        # (Also guards the set-password form, which asks this with the account.)
        return super().has_change_permission(request, obj) and (obj is None or rules.may_manage(request.user, obj))

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return super().get_fieldsets(request, obj)  # username and password: nothing else when adding
        # Staff and superuser status and single permissions are a superuser's to set: everyone
        # else's form lacks the fields, so a value posted for them is ignored.
        superuser = request.user.is_superuser
        status = ["is_active", "is_staff", "is_superuser"] if superuser else ["is_active"]
        roles = ["roles", "user_permissions"] if superuser else ["roles"]
        return [
            (None, {"fields": ["username", "password"]}),
            ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
            ("Status", {"fields": status}),
            ("Roles (changing them is audited: Staff accounts > Role changes)", {"fields": roles}),
            ("Important dates", {"fields": ["last_login", "date_joined"]}),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return form if obj is None else type(form.__name__, (form,), {"grantable": rules.grantable_roles(request.user)})

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            rules.record_creation(obj, by=request.user)
            return
        before = User.objects.get(pk=obj.pk)
        wanted = {field: getattr(obj, field) for field in rules.STATUSES}
        for field, value in wanted.items():
            setattr(obj, field, getattr(before, field))
        rules.set_status(obj, by=request.user, **wanted)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if "roles" in form.cleaned_data:
            rules.set_roles(form.instance, form.cleaned_data["roles"], by=request.user)  # (checked again there)


@admin.register(RoleChange)
class RoleChangeAdmin(ReadOnlyAdmin):
    list_display = ["at", "account_username", "action", "role", "changed_by_username"]
    list_filter = ["action", "role", "at"]
    search_fields = ["account_username", "changed_by_username", "role"]
