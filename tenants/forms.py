"""Forms of the platform domain: opening a site from the firm console, offboarding one."""

from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tenants.models import SiteKind, slug_validator

COMMON_TIME_ZONES = ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Macau", "Asia/Taipei", "Asia/Urumqi"]


class OnboardSiteForm(forms.Form):
    """What the firm admin types while the contract is being signed (开通新站点)."""

    name = forms.CharField(label=_("Name"), max_length=200)
    name_en = forms.CharField(label=_("English name"), max_length=200, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=SiteKind.choices)
    template = forms.ChoiceField(label=_("Configuration template"))
    region = forms.ModelChoiceField(label=_("Region"), queryset=None, required=False)
    slug = forms.SlugField(
        label=_("Address"),
        max_length=40,
        validators=[slug_validator],
        help_text=_("The site is served at <address>.%(domain)s.") % {"domain": "…"},
    )
    domain = forms.CharField(
        label=_("Own domain (optional)"),
        max_length=253,
        required=False,
        help_text=_("Leave empty to use the address above."),
    )
    time_zone = forms.CharField(label=_("Time zone"), initial="Asia/Shanghai", max_length=64)
    languages = forms.MultipleChoiceField(
        label=_("Languages"),
        choices=settings.LANGUAGES,
        initial=[code for code, _name in settings.LANGUAGES],
        widget=forms.CheckboxSelectMultiple,
    )
    admin_email = forms.EmailField(label=_("First site admin's e-mail"))

    def __init__(self, *args, firm, **kwargs):
        super().__init__(*args, **kwargs)
        from casework.site_templates import TEMPLATES

        self.fields["region"].queryset = firm.regions.all()
        self.fields["template"].choices = [
            (code, label.display_name) for code, label in TEMPLATES.items()
        ]
        self.fields["slug"].help_text = _("The site is served at <address>.%(domain)s.") % {
            "domain": settings.BASE_DOMAIN
        }

    def clean_time_zone(self):
        zone = self.cleaned_data["time_zone"].strip()
        if zone not in available_timezones():
            raise forms.ValidationError(_("Unknown time zone."))
        return zone


class ConfirmDeletionForm(forms.Form):
    slug = forms.CharField(label=_("Type the site's address to confirm"), max_length=40)

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, **kwargs)
        self.site = site

    def clean_slug(self):
        typed = self.cleaned_data["slug"].strip()
        if typed != self.site.slug:
            raise forms.ValidationError(_("This is not the site's address."))
        return typed
