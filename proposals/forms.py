"""The forms that draft a proposal: thresholds for a selection of customers, or a CSV upload."""

from django import forms

from counterrules.models import RULE_FIELDS, CounterRule
from users.models import Customer
from users.thresholds import OFF, THRESHOLD_FIELDS, parse_threshold

from .models import DEFAULT_REPLAY_DAYS, MAX_REPLAY_DAYS


class DraftForm(forms.Form):
    """What every way of drafting a proposal asks: why, and how many days its replay judges (left
    empty: the default)."""

    reason = forms.CharField(max_length=500)
    replay_days = forms.IntegerField(min_value=1, max_value=MAX_REPLAY_DAYS, initial=DEFAULT_REPLAY_DAYS,
                                     required=False, label="Replay window (days)")


class ProposalForm(DraftForm):
    """The thresholds to change for a selection: an empty field stays as it is, 'off' turns an
    optional signal off. Values are parsed by the customer's own fields (users/thresholds.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in THRESHOLD_FIELDS:
            field = Customer._meta.get_field(name)
            self.fields[name] = forms.CharField(
                label=field.verbose_name, required=False,
                help_text=f"empty: unchanged{f'; {OFF}: signal off' if field.null else ''}")

    def clean(self):
        data = super().clean()
        self.changes = {}
        for name in THRESHOLD_FIELDS:
            text = data.get(name, "")
            if text.strip():
                try:
                    self.changes[name] = parse_threshold(name, text)
                except ValueError as error:
                    self.add_error(name, str(error))
        if not self.changes and not self.errors:
            raise forms.ValidationError("Change at least one threshold.")
        return data


class ProposalUploadForm(DraftForm):
    file = forms.FileField(help_text="CSV: a user_id column and one column per threshold to change "
                                     f"({', '.join(THRESHOLD_FIELDS)}); '{OFF}' or empty turns a signal off.")


class RuleProposalForm(DraftForm, forms.ModelForm):
    """A counter rule's new definition (a new name adds one; active off retires it): the model's
    fields checked by the model (counterrules/models.py) when the proposal is drafted."""

    class Meta:
        model = CounterRule
        fields = ["name", *RULE_FIELDS]

    def validate_unique(self):
        pass  # the name of an existing rule proposes a change of that rule

    def rule_changes(self):
        return {self.cleaned_data["name"]: {field: self.cleaned_data[field] for field in RULE_FIELDS}}
