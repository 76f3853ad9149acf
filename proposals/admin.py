"""The proposals' admin: drafting from the customers' list (an action added to the customers'
admin, so that the users app needs no knowledge of proposals) or a CSV upload, the proposal's page
with its replay, approval and rejection."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from counterrules.models import CounterRule
from counterrules.services import described
from fraudsite.admin import HistoryAdmin, require_id
from fraudsite.flink_client import unavailable as replay_unavailable
from users.admin import CustomerAdmin
from users.models import Customer
from users.thresholds import InvalidThresholds

from . import replay_queue, services
from .forms import ProposalForm, ProposalUploadForm, RuleProposalForm
from .models import Proposal
from .permissions import ADD_PROPOSAL, APPROVE_PROPOSAL, CHANGE_PROPOSAL


def warn_if_replay_unavailable(request):
    """Say on the page, before anyone drafts a proposal, when proposals cannot be replayed (and so
    never approved) with this deployment's settings (fraudsite/flink_client.py)."""
    if request.method == "GET" and replay_unavailable():
        messages.warning(request, f"No proposal can be replayed here, so none can be approved: {replay_unavailable()}")


def describe_replay(proposal):
    """The replay's state in a line, for the list, the proposal's page and its progress bar."""
    if proposal.status == Proposal.Status.QUEUED:
        return (f"queued {timezone.localtime(proposal.replay_queued_at):%Y-%m-%d %H:%M:%S}, waiting for the replay "
                "process (manage.py replay_proposal --serve)")
    if proposal.status == Proposal.Status.REPLAYING:
        heartbeat = timezone.localtime(proposal.replay_heartbeat_at or proposal.replay_started_at)
        return f"running ({proposal.replay_owner}, alive at {heartbeat:%H:%M:%S}): {proposal.replay_message}"
    return proposal.replay_message  # finished, or why it failed


def draft_from(model_admin, request, form, draft):
    """When the form is valid, draft() the proposal and go to its page; None (the form shows why) otherwise."""
    if not form.is_valid():
        return None
    try:
        proposal = draft()
    except InvalidThresholds as error:
        form.add_error(None, [f"{who}: {' '.join(m for ms in fields.values() for m in ms)}"
                              for who, fields in error.errors.items()])
        return None
    model_admin.message_user(request, f"Draft proposal {proposal.pk} saved; replay it before approval.")
    return redirect("admin:proposals_proposal_change", proposal.pk)


admin.site.unregister(Customer)


@admin.register(Customer)
class CustomerWithProposalsAdmin(CustomerAdmin):
    """The customers' admin with the action that drafts a proposal for the selected customers."""

    actions = [*CustomerAdmin.actions, "propose_thresholds"]

    @admin.action(description="Propose thresholds for the selected customers", permissions=["propose"])
    def propose_thresholds(self, request, queryset):
        """An intermediate page: the thresholds to change and why; saving makes a draft proposal
        (nothing changes until a second person approves it after its replay)."""
        warn_if_replay_unavailable(request)
        form = ProposalForm(request.POST if "propose" in request.POST else None)
        drafted = draft_from(self, request, form, lambda: services.propose_for(
            queryset, form.changes, author=request.user, reason=form.cleaned_data["reason"],
            replay_days=form.cleaned_data["replay_days"]))
        if drafted:
            return drafted
        return TemplateResponse(request, "admin/proposals/propose_thresholds.html", {
            **self.admin_site.each_context(request), "title": "Propose thresholds", "form": form,
            "customers": queryset, "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME})

    def has_propose_permission(self, request):
        return request.user.has_perm(ADD_PROPOSAL)


@admin.register(Proposal)
class ProposalAdmin(HistoryAdmin):
    """Proposals: drafted from the customers' action or a CSV upload, replayed, then approved or
    rejected by someone else (the buttons of the proposal's page)."""

    list_display = ["__str__", "author", "created_at", "status", "replay_state", "reason", "decided_by"]
    list_filter = ["status"]
    search_fields = ["reason", "author__username"]
    history_list_display = ["status", "decided_by", "decision_reason"]
    fields = ["author", "created_at", "reason", "status", "replay_days", "decided_by", "decided_at",
              "decision_reason"]
    readonly_fields = fields
    change_form_template = "admin/proposals/proposal/change_form.html"
    change_list_template = "admin/proposals/proposal/change_list.html"

    class Media:
        css = {"all": ["proposals/admin.css"]}
        js = ["proposals/proposal.js"]

    @admin.display(description="replay")
    def replay_state(self, proposal):
        """Where its replay stands: waiting, running where, or why it failed."""
        return describe_replay(proposal)

    def has_add_permission(self, request):
        return False  # drafted from the customers' action or a CSV upload (with their own checks)

    def has_delete_permission(self, request, obj=None):
        return False  # audited: rejected, never removed

    def changelist_view(self, request, extra_context=None):
        warn_if_replay_unavailable(request)
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        view = lambda fn: self.admin_site.admin_view(require_POST(fn))  # noqa: E731
        return [
            path("upload/", self.admin_site.admin_view(self.upload), name="proposals_proposal_upload"),
            path("rule/", self.admin_site.admin_view(self.propose_rule), name="proposals_proposal_rule"),
            path("<int:pk>/progress/", self.admin_site.admin_view(self.progress), name="proposals_proposal_progress"),
            path("<int:pk>/replay/", view(self.start_replay), name="proposals_proposal_replay"),
            path("<int:pk>/approve/", view(self.approve), name="proposals_proposal_approve"),
            path("<int:pk>/reject/", view(self.reject), name="proposals_proposal_reject"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        require_id(Proposal, object_id)
        proposal = get_object_or_404(Proposal, pk=object_id)
        result = proposal.replay_result or {}
        customers = Customer.objects.in_bulk(proposal.user_ids, field_name="user_id")
        changes = [{"user_id": user_id, "changes": [
            (name, getattr(customers.get(user_id), name, None), value) for name, value in fields.items()]}
            for user_id, fields in sorted(proposal.changes.items())[:200]]
        return super().change_view(request, object_id, form_url, {
            **(extra_context or {}), "proposal": proposal, "result": result, "changes": changes,
            "more_changes": max(0, len(proposal.changes) - 200),
            "rule_changes": described(proposal.rule_changes) if proposal.is_rule_change else [],
            "per_reason": sorted((result.get("per_reason") or {}).items()),
            "can_decide": request.user.has_perm(APPROVE_PROPOSAL),
            "can_replay": request.user.has_perm(ADD_PROPOSAL) or request.user.has_perm(CHANGE_PROPOSAL),
            "replayable": proposal.status in replay_queue.REPLAYABLE, "replay_state": describe_replay(proposal),
        })

    def upload(self, request):
        if not request.user.has_perm(ADD_PROPOSAL):
            raise PermissionDenied
        warn_if_replay_unavailable(request)
        form = ProposalUploadForm(request.POST or None, request.FILES or None)
        row_errors = {}
        if form.is_valid():
            try:
                changes = services.changes_from_csv(form.cleaned_data["file"].read().decode("utf-8-sig"))
                proposal = services.create_proposal(author=request.user, reason=form.cleaned_data["reason"],
                                                     replay_days=form.cleaned_data["replay_days"], changes=changes)
            except UnicodeDecodeError:
                form.add_error("file", "Not UTF-8 text.")
            except InvalidThresholds as error:
                row_errors = {who: [f"{field}: {' '.join(ms)}" for field, ms in fields.items()]
                              for who, fields in error.errors.items()}
            else:
                self.message_user(request, f"Draft proposal {proposal.pk} saved ({len(changes)} customers).")
                return redirect("admin:proposals_proposal_change", proposal.pk)
        return TemplateResponse(request, "admin/proposals/proposal/upload.html", {
            **self.admin_site.each_context(request), "title": "Upload a threshold proposal (CSV)", "form": form,
            "row_errors": sorted(row_errors.items()), "opts": self.model._meta})

    def propose_rule(self, request):
        """A change of one counter rule (?name= starts from that rule), drafted as a proposal."""
        if not request.user.has_perm(ADD_PROPOSAL):
            raise PermissionDenied
        warn_if_replay_unavailable(request)
        current = CounterRule.objects.filter(name=request.GET.get("name", "")).first()
        form = RuleProposalForm(request.POST or None, instance=current or CounterRule())
        drafted = draft_from(self, request, form, lambda: services.create_rule_proposal(
            author=request.user, reason=form.cleaned_data["reason"], rule_changes=form.rule_changes(),
            replay_days=form.cleaned_data["replay_days"]))
        if drafted:
            return drafted
        return TemplateResponse(request, "admin/proposals/proposal/rule.html", {
            **self.admin_site.each_context(request), "title": "Propose a counter rule change", "form": form,
            "opts": self.model._meta})

    def progress(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        proposal = get_object_or_404(Proposal, pk=pk)
        return JsonResponse({"status": proposal.status, "percent": proposal.replay_progress,
                             "message": describe_replay(proposal)})

    def _decide(self, request, pk, decide, success):
        proposal = get_object_or_404(Proposal, pk=pk)
        try:
            decide(proposal)
        except services.ProposalRefused as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(request, success)
        return redirect(reverse("admin:proposals_proposal_change", args=[pk]))

    def start_replay(self, request, pk):
        if not (request.user.has_perm(ADD_PROPOSAL) or request.user.has_perm(CHANGE_PROPOSAL)):
            raise PermissionDenied
        return self._decide(request, pk, lambda p: replay_queue.queue_replay(p, user=request.user),
                            "Replay queued: the replay process (manage.py replay_proposal --serve) runs it.")

    def approve(self, request, pk):
        return self._decide(request, pk, lambda p: services.approve(p, user=request.user),
                            "Approved: the changes are published to users-config.")

    def reject(self, request, pk):
        return self._decide(request, pk, lambda p: services.reject(p, user=request.user,
                                                                   reason=request.POST.get("reason", "")),
                            "Rejected.")
