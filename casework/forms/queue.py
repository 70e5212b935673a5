"""The forms of the queue and the new-case screen. They parse what was typed; the rules of
intake stay in `casework.services.register_case` / `record_resolved_at_contact`, whose errors
are put back on the form next to their fields."""

from datetime import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from casework.models import CaseStatus, Category, CategoryKind, Channel, Department, Relation, Tier
from casework.selectors import QUEUE_TABS, SEARCH_LENGTH, QueueFilters

# The channels staff take in by hand; the web form and the suggestion box arrive on their own.
STAFF_CHANNELS = [
    (value, label)
    for value, label in Channel.choices
    if value not in (Channel.WEB, Channel.SUGGESTION_BOX)
]


class QueueFilterForm(forms.Form):
    """The queue's query string. Anything unparseable is dropped, never an error page: a
    bookmarked or saved filter must still open after a tier or category is retired."""

    tab = forms.ChoiceField(choices=[(t, t) for t in QUEUE_TABS], required=False)
    q = forms.CharField(label=_("Search"), max_length=SEARCH_LENGTH, required=False)
    tier = forms.ModelChoiceField(
        label=_("Tier"), queryset=Tier.objects.all(), required=False, empty_label=_("any tier")
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", _("any channel")), *Channel.choices], required=False
    )
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=Category.objects.filter(is_active=True),
        required=False,
        empty_label=_("any category"),
    )
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.filter(is_active=True),
        required=False,
        empty_label=_("any department"),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("being handled")), ("any", _("any status")), *CaseStatus.choices],
        required=False,
    )

    def filters(self) -> QueueFilters:
        self.is_valid()
        data = {
            name: value
            for name, value in getattr(self, "cleaned_data", {}).items()
            if name not in self.errors
        }
        return QueueFilters(
            tab=data.get("tab") or "all",
            q=(data.get("q") or "").strip(),
            tier=data["tier"].pk if data.get("tier") else None,
            channel=data.get("channel") or "",
            category=data["category"].pk if data.get("category") else None,
            department=data["department"].pk if data.get("department") else None,
            status=data.get("status") or "",
        )


def parse_cursor(value: str) -> tuple[datetime, int] | None:
    """A page cursor `<microseconds since the epoch>.<id>`; None if absent or malformed."""
    from datetime import UTC

    try:
        micros, pk = (int(part) for part in value.split("."))
        return datetime.fromtimestamp(micros / 1_000_000, tz=UTC), pk
    except (ValueError, OverflowError, OSError):
        return None


def format_cursor(cursor: tuple[datetime, int] | None) -> str:
    if cursor is None:
        return ""
    moment, pk = cursor
    return f"{round(moment.timestamp() * 1_000_000)}.{pk}"


class SavedFilterForm(forms.Form):
    name = forms.CharField(label=_("Name of this filter"), max_length=80)
    query = forms.CharField(max_length=500, required=False, widget=forms.HiddenInput)


class NewCaseForm(forms.Form):
    """One screen for the receptionist: who, what, and either register or settle on the spot."""

    channel = forms.ChoiceField(
        label=_("Channel"), choices=STAFF_CHANNELS, initial=Channel.PHONE, widget=forms.RadioSelect
    )
    relation = forms.ChoiceField(
        label=_("Complainant is"), choices=Relation.choices, initial=Relation.PATIENT
    )
    anonymous = forms.BooleanField(label=_("Anonymous"), required=False)
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    consent_contact = forms.BooleanField(
        label=_("May be contacted about the complaint"), required=False, initial=True
    )
    account = forms.CharField(label=_("What happened"), widget=forms.Textarea(attrs={"rows": 4}))
    occurred_at = forms.DateTimeField(
        label=_("When it happened"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    location = forms.CharField(label=_("Where it happened"), max_length=200, required=False)
    subject = forms.CharField(
        label=_("Department or person complained about"), max_length=200, required=False
    )
    desired_outcome = forms.CharField(
        label=_("What the complainant wants"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    tier = forms.ModelChoiceField(
        label=_("Tier"),
        queryset=Tier.objects.all(),
        required=False,
        empty_label=_("least severe until classified"),
    )
    content = forms.ModelChoiceField(
        label=_("Content"),
        queryset=Category.objects.filter(kind=CategoryKind.CONTENT, is_active=True),
        required=False,
        empty_label=_("not classified yet"),
    )
    lead_department = forms.ModelChoiceField(
        label=_("Responsible department"),
        queryset=Department.objects.filter(is_active=True),
        required=False,
        empty_label=_("not dispatched yet"),
    )
    resolution = forms.CharField(
        label=_("How it was settled on the spot"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Only for “Resolved at contact”: no case is opened, it is still counted."),
    )

    def clean(self):
        data = super().clean()
        if (
            not data.get("anonymous")
            and data.get("consent_contact")
            and not (data.get("phone") or data.get("email") or data.get("name"))
        ):
            self.add_error(
                "phone",
                _("Give a name, phone or e-mail, or mark the complaint anonymous."),
            )
        return data
