"""The public forms. They check what a person typed; the rules of a case live in casework."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from casework.models import Department, Relation

PHONE = re.compile(r"^\+?[\d\s\-()]{7,20}$")
# Control characters other than newlines and tabs never belong in a complaint.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True

    def __init__(self, attrs=None):
        # Phones then offer the camera and the gallery straight away.
        super().__init__(
            {"accept": "image/jpeg,image/png,image/webp,application/pdf", **(attrs or {})}
        )


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class AccessibleErrors:
    """Ties each field's error message to its input for screen readers (WCAG 3.3.1)."""

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs.update(
                    {"aria-invalid": "true", "aria-describedby": f"id_{name}-error"}
                )


def _text(value: str) -> str:
    return CONTROL.sub("", value or "").strip()


class ComplaintForm(AccessibleErrors, forms.Form):
    relation = forms.ChoiceField(
        label=_("You are"), choices=[("", _("Please choose")), *Relation.choices]
    )
    anonymous = forms.BooleanField(
        label=_("Stay anonymous (we cannot contact you or tell you the outcome)"), required=False
    )
    name = forms.CharField(label=_("Your name"), max_length=100, required=False)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    email = forms.EmailField(label=_("E-mail"), required=False)
    location = forms.CharField(
        label=_("Where did it happen? (ward, building, floor)"), max_length=200, required=False
    )
    occurred_at = forms.DateTimeField(
        label=_("When did it happen?"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    department = forms.ModelChoiceField(
        label=_("Which service is it about?"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("Not sure"),
    )
    account = forms.CharField(
        label=_("What happened?"), max_length=5000, widget=forms.Textarea(attrs={"rows": 6})
    )
    desired_outcome = forms.CharField(
        label=_("What would you like us to do?"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    attachments = MultipleFileField(
        label=_("Photos or documents (JPEG, PNG, WebP or PDF, up to 5 files of 10 MB)"),
        required=False,
    )
    email_copy = forms.BooleanField(
        label=_("E-mail me a copy of the receipt (we first ask you to confirm the address)"),
        required=False,
    )
    consent_contact = forms.BooleanField(
        label=_("You may contact me about this complaint"), required=False
    )
    consent_share = forms.BooleanField(
        label=_("You may share my name with the people concerned if needed to resolve it"),
        required=False,
    )
    # Left empty by people; filled in by bots that fill in everything.
    website = forms.CharField(required=False, label=_("Leave this empty"))
    pow_challenge = forms.CharField(required=False, widget=forms.HiddenInput)
    pow_nonce = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.filter(is_active=True)
        self.fields["website"].widget.attrs.update(
            {"autocomplete": "off", "tabindex": "-1", "class": "hp"}
        )

    def clean_phone(self):
        phone = _text(self.cleaned_data.get("phone"))
        if phone and not PHONE.match(phone):
            raise forms.ValidationError(_("Enter a phone number, e.g. 138 1234 5678."))
        return phone

    def clean_name(self):
        return _text(self.cleaned_data.get("name"))

    def clean_account(self):
        account = _text(self.cleaned_data.get("account"))
        if len(account) < 5:
            raise forms.ValidationError(_("Please tell us a little more about what happened."))
        return account

    def clean_location(self):
        return _text(self.cleaned_data.get("location"))

    def clean_desired_outcome(self):
        return _text(self.cleaned_data.get("desired_outcome"))

    def clean(self):
        data = super().clean()
        if not data.get("anonymous") and not (data.get("phone") or data.get("email")):
            self.add_error(
                "phone", _("Give a phone number or an e-mail address, or choose to stay anonymous.")
            )
        if data.get("email_copy") and not data.get("email"):
            self.add_error("email", _("Give the address the copy should go to."))
        return data

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))


class AccessCodeForm(AccessibleErrors, forms.Form):
    code = forms.CharField(
        label=_("Access code"),
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class AddInformationForm(AccessibleErrors, forms.Form):
    text = forms.CharField(
        label=_("Add information"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    attachments = MultipleFileField(label=_("Photos or documents"), required=False)


class RatingForm(AccessibleErrors, forms.Form):
    rating = forms.TypedChoiceField(
        label=_("How satisfied are you with our handling?"),
        coerce=int,
        choices=[
            (5, _("5 — very satisfied")),
            (4, _("4 — satisfied")),
            (3, _("3 — average")),
            (2, _("2 — poor")),
            (1, _("1 — very poor")),
        ],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything to add?"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
