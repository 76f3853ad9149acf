"""Counter rules are read here, with their history; a change is drafted as a proposal (the link
on the list: proposals/admin.py), replayed and approved by someone else."""

from django.contrib import admin

from fraudsite import detection_counters
from fraudsite.admin import HistoryAdmin

from .models import CounterRule


@admin.register(CounterRule)
class CounterRuleAdmin(HistoryAdmin):
    list_display = ["name", "sentence", "weight", "active", "counted"]
    list_filter = ["active", "key", "window", "aggregate"]
    search_fields = ["name", "description"]
    fields = ["name", "key", "window", "aggregate", "comparison", "threshold", "weight", "active", "description"]
    readonly_fields = fields
    change_list_template = "admin/counterrules/counterrule/change_list.html"

    @admin.display(description="rule")
    def sentence(self, rule):
        return rule.sentence()

    @admin.display(description="counted by the job", boolean=True)
    def counted(self, rule):
        return rule.counter in detection_counters.counters()

    def has_add_permission(self, request):
        return False  # through a proposal

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # retired (active off) by a proposal, never removed: verdicts name it
