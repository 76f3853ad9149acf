from django import forms
from django.core.exceptions import ValidationError

from .models import TravelNotice
from .notices import Region, create_travel_notice


class TravelNoticeForm(forms.Form):
    """A travel notice from a page (a case): the region is drawn on the map (a click sets the
    centre) or left empty for everywhere."""

    starts_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    signal = forms.ChoiceField(choices=TravelNotice._meta.get_field("signal").choices, required=False)
    reason = forms.CharField(max_length=TravelNotice._meta.get_field("reason").max_length)
    center_lat = forms.FloatField(required=False, widget=forms.NumberInput(attrs={"step": "any"}))
    center_lng = forms.FloatField(required=False, widget=forms.NumberInput(attrs={"step": "any"}))
    radius_km = forms.FloatField(required=False, widget=forms.NumberInput(attrs={"step": "any"}))

    def create(self, customer, user):
        """The notice, or None with the model's objections added to the form."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        region_given = [data[name] is not None for name in ("center_lat", "center_lng", "radius_km")]
        if any(region_given) and not all(region_given):
            self.add_error("radius_km", "Draw the region (centre and radius) completely, or leave it out.")
            return None
        region = Region(data["center_lat"], data["center_lng"], data["radius_km"]) if all(region_given) else None
        try:
            return create_travel_notice(customer, starts_at=data["starts_at"], ends_at=data["ends_at"],
                                        signal=data["signal"], reason=data["reason"], region=region, user=user)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
            return None
