"""The forms of the site admin's configuration screens. They parse what was typed; every rule
(positive durations, known roles, no cycles, a unique reference pattern, people of this site)
is the service's (casework.services), whose errors the views put back next to the fields."""

from django import forms
from django.utils.translation import gettext_lazy as _

from casework.models import (
    CalendarDay,
    Category,
    CategoryKind,
    Department,
    DurationUnit,
    EscalationLevel,
    MetBy,
    Tier,
    default_compensation_limits,
)
from tenants.models import REGION_ROLES, SITE_ROLES, Role, User

CHAIN_LEVELS = 5  # escalation levels offered on the screen; the model takes any number

SITE_ROLE_CHOICES = [(r.value, r.label) for r in Role if r in SITE_ROLES]
CHAIN_ROLE_CHOICES = [(r.value, r.label) for r in Role if r in SITE_ROLES | REGION_ROLES]


def site_people(site):
    """Everyone holding a role on the site itself: the people a department or a setting may
    name."""
    return (
        User.objects.filter(memberships__site=site, is_active=True)
        .distinct()
        .order_by("last_name", "first_name", "email")
    )


class PersonChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.email


class PeopleChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.email


class OrderedValues(forms.Widget):
    """Several inputs of one name whose order matters (an escalation chain, level by level):
    rendered by the template as one select per level, read back in the order posted."""

    def value_from_datadict(self, data, files, name):
        return [v for v in data.getlist(name) if v.strip()] if hasattr(data, "getlist") else []

    def value_omitted_from_data(self, data, files, name):
        return False


class ChainField(forms.Field):
    widget = OrderedValues

    def to_python(self, value):
        return [str(v).strip() for v in value or [] if str(v).strip()]


class ApplyMixin(forms.Form):
    apply_to_open_cases = forms.BooleanField(
        label=_("Apply to open cases"),
        required=False,
        help_text=_(
            "Re-base the running clocks of cases already registered, counted from their "
            "registration. Left unticked, they keep the deadlines they were given."
        ),
    )
    note = forms.CharField(label=_("Why (kept in the history)"), required=False, max_length=500)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("apply_to_open_cases", "note"):  # last, next to the button
            if name in self.fields:
                self.fields[name] = self.fields.pop(name)


class TierForm(ApplyMixin):
    code = forms.SlugField(label=_("code"), max_length=40, required=False)
    name = forms.CharField(label=_("name"), max_length=200, required=False)
    name_en = forms.CharField(label=_("English name"), max_length=200, required=False)
    rank = forms.IntegerField(label=_("severity rank"), help_text=_("Higher is more severe."))
    description = forms.CharField(
        label=_("meaning"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    handler_role = forms.ChoiceField(label=_("handled by"), choices=SITE_ROLE_CHOICES)
    extension_approver_role = forms.ChoiceField(
        label=_("extensions approved by"), choices=SITE_ROLE_CHOICES
    )
    close_approver_role = forms.ChoiceField(
        label=_("closing approved by"),
        choices=[("", _("nobody: the handler closes")), *SITE_ROLE_CHOICES],
        required=False,
    )
    upgrade_after_days = forms.IntegerField(
        label=_("upgrade a valid complaint unresolved after (days)"), required=False
    )
    upgrade_to = forms.ModelChoiceField(
        label=_("upgrade to"), queryset=Tier.objects.none(), required=False
    )
    pause_reasons = forms.CharField(
        label=_("pause reasons"),
        required=False,
        help_text=_("Codes separated by commas, e.g. awaiting_complainant, awaiting_parts."),
    )

    def __init__(self, *args, tier: Tier | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        others = Tier.objects.all()
        if tier is not None:
            others = others.exclude(pk=tier.pk)
            del self.fields["code"]
        else:
            self.fields["code"].required = True
            del self.fields["apply_to_open_cases"]
        self.fields["upgrade_to"].queryset = others

    def clean_pause_reasons(self) -> list[str]:
        raw = self.cleaned_data.get("pause_reasons") or ""
        return [part.strip() for part in raw.replace("，", ",").split(",") if part.strip()]

    def tier_fields(self) -> dict:
        data = dict(self.cleaned_data)
        for key in ("apply_to_open_cases", "note", "code"):
            data.pop(key, None)
        return data


class RuleForm(ApplyMixin):
    code = forms.SlugField(label=_("code"), max_length=40, required=False)
    name = forms.CharField(label=_("name"), max_length=200, required=False)
    name_en = forms.CharField(label=_("English name"), max_length=200, required=False)
    amount = forms.IntegerField(label=_("duration"))
    unit = forms.ChoiceField(label=_("unit"), choices=DurationUnit.choices)
    met_by = forms.ChoiceField(label=_("met by"), choices=MetBy.choices)
    escalation_chain = ChainField(
        label=_("escalation chain"),
        required=False,
        help_text=_("Who is told when the clock runs out, one level per further miss."),
    )
    position = forms.IntegerField(label=_("order"), required=False, min_value=0)

    def __init__(self, *args, creating: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if creating:
            self.fields["code"].required = True
        else:
            del self.fields["code"]

    def rule_fields(self) -> dict:
        data = dict(self.cleaned_data)
        for key in ("apply_to_open_cases", "note", "code"):
            data.pop(key, None)
        if data.get("position") is None:
            data.pop("position", None)
        return data


class PreviewForm(forms.Form):
    """The moment a previewed case is registered at (local time of the site)."""

    at = forms.DateTimeField(
        label=_("a case registered at"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class DepartmentForm(forms.Form):
    code = forms.SlugField(label=_("code"), max_length=40, required=False)
    name = forms.CharField(label=_("name"), max_length=200, required=False)
    name_en = forms.CharField(label=_("English name"), max_length=200, required=False)
    parent = forms.ModelChoiceField(
        label=_("part of"),
        queryset=Department.objects.filter(is_active=True),
        required=False,
        empty_label=_("(top level)"),
    )
    position = forms.IntegerField(label=_("order"), required=False, min_value=0, initial=0)

    def __init__(self, *args, creating: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if creating:
            self.fields["code"].required = True
        else:
            del self.fields["code"]
            del self.fields["parent"]


class MoveDepartmentForm(forms.Form):
    parent = forms.ModelChoiceField(
        label=_("move under"),
        queryset=Department.objects.all(),
        required=False,
        empty_label=_("(top level)"),
    )


class DepartmentPeopleForm(forms.Form):
    supervisor = PersonChoice(label=_("supervisor"), queryset=User.objects.none(), required=False)
    members = PeopleChoice(
        label=_("members"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, site=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Anyone may be chosen here; the service refuses people who do not work on the site,
        # with their names, rather than the form hiding why.
        people = site_people(site) if site is not None else User.objects.none()
        self.fields["supervisor"].queryset = people
        self.fields["members"].queryset = people


class CategoryForm(forms.Form):
    kind = forms.ChoiceField(label=_("kind"), choices=CategoryKind.choices, required=False)
    code = forms.CharField(
        label=_("code"),
        max_length=12,
        help_text=_("Upper-case letters and digits; new references carry it."),
    )
    name = forms.CharField(label=_("name"), max_length=200, required=False)
    name_en = forms.CharField(label=_("English name"), max_length=200, required=False)
    parent = forms.ModelChoiceField(
        label=_("sub-category of"), queryset=Category.objects.all(), required=False
    )
    is_valid_complaint = forms.BooleanField(label=_("a valid complaint"), required=False)
    requires_signoff = forms.BooleanField(
        label=_("closed only when the complainant signs off (repairs)"), required=False
    )
    is_active = forms.BooleanField(label=_("in use"), required=False, initial=True)

    def __init__(self, *args, creating: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if creating:
            self.fields["kind"].required = True
            del self.fields["is_active"]
        else:
            del self.fields["kind"]


class CalendarDayForm(ApplyMixin):
    day = forms.DateField(label=_("day"), widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=_("kind"), choices=CalendarDay.Kind.choices)
    day_note = forms.CharField(label=_("note"), max_length=200, required=False)

    field_order = ["day", "kind", "day_note", "apply_to_open_cases"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["note"]


class RemoveCalendarDayForm(forms.Form):
    apply_to_open_cases = ApplyMixin.base_fields["apply_to_open_cases"]


def limit_roles(current: dict) -> list[str]:
    """The roles whose compensation limit the screen shows: the defaults and any set."""
    wanted = [*default_compensation_limits(), *current]
    return [role for role in dict.fromkeys(wanted) if role in SITE_ROLES]


class SettingsForm(ApplyMixin):
    workday_start = forms.TimeField(
        label=_("office opens"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    workday_end = forms.TimeField(
        label=_("office closes"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    use_official_holidays = forms.BooleanField(
        label=_("follow China's public holidays and make-up working days"), required=False
    )
    intake_owner = PersonChoice(
        label=_("owner of complaints that arrive without a person"),
        queryset=User.objects.none(),
        required=False,
    )
    after_hours_receiver = PersonChoice(
        label=_("after-hours receiver (general duty officer)"),
        queryset=User.objects.none(),
        required=False,
    )
    reference_pattern = forms.CharField(
        label=_("reference pattern"),
        max_length=60,
        help_text=_(
            "{date} is YYYYMMDD in the site's time zone, {category} the content "
            "category's code, {seq} the day's sequence number."
        ),
    )
    default_category_code = forms.ChoiceField(
        label=_("category code of references without a content category"), choices=[]
    )
    handover_accept_minutes = forms.IntegerField(
        label=_("a hand-over must be accepted within (minutes)")
    )

    def __init__(self, *args, site=None, limits: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        people = site_people(site) if site is not None else User.objects.none()
        self.fields["intake_owner"].queryset = people
        self.fields["after_hours_receiver"].queryset = people
        codes = Category.objects.filter(kind=CategoryKind.CONTENT).order_by("code")
        choices = [(c.code, f"{c.code} · {c.display_name}") for c in codes]
        current = (self.initial or {}).get("default_category_code")
        if current and current not in {code for code, _label in choices}:
            choices.insert(0, (current, current))
        self.fields["default_category_code"].choices = choices
        self.limit_roles = limit_roles(limits or {})
        for role in self.limit_roles:
            self.fields[f"limit_{role}"] = forms.IntegerField(
                label=_("compensation %(role)s may approve alone (yuan)")
                % {"role": Role(role).label},
                required=False,
            )
        for level in EscalationLevel:
            self.fields[f"points_{level.value}"] = forms.IntegerField(
                label=_("points deducted for an escalation to %(level)s") % {"level": level.label},
                required=False,
            )

    def settings_fields(self) -> dict:
        data = self.cleaned_data
        plain = [
            "workday_start",
            "workday_end",
            "use_official_holidays",
            "intake_owner",
            "after_hours_receiver",
            "reference_pattern",
            "default_category_code",
            "handover_accept_minutes",
        ]
        values = {key: data.get(key) for key in plain}
        values["reference_pattern"] = (values["reference_pattern"] or "").strip()
        values["compensation_limits"] = {
            role: data[f"limit_{role}"]
            for role in self.limit_roles
            if data.get(f"limit_{role}") is not None
        }
        values["escalation_points"] = {
            level.value: data[f"points_{level.value}"]
            for level in EscalationLevel
            if data.get(f"points_{level.value}") is not None
        }
        return values

    @staticmethod
    def initial_from(configuration) -> dict:
        initial = {
            "workday_start": configuration.workday_start,
            "workday_end": configuration.workday_end,
            "use_official_holidays": configuration.use_official_holidays,
            "intake_owner": configuration.intake_owner_id,
            "after_hours_receiver": configuration.after_hours_receiver_id,
            "reference_pattern": configuration.reference_pattern,
            "default_category_code": configuration.default_category_code,
            "handover_accept_minutes": configuration.handover_accept_minutes,
        }
        for role, amount in (configuration.compensation_limits or {}).items():
            initial[f"limit_{role}"] = amount
        for level, points in (configuration.escalation_points or {}).items():
            initial[f"points_{level}"] = points
        return initial


class StaffForm(forms.Form):
    email = forms.EmailField(label=_("e-mail address"))
    role = forms.ChoiceField(label=_("role"), choices=SITE_ROLE_CHOICES)


class HistoryFilterForm(forms.Form):
    MODELS = [
        ("", _("everything")),
        ("tier", _("tiers")),
        ("milestone_rule", _("milestone rules")),
        ("department", _("departments")),
        ("category", _("categories")),
        ("calendar_day", _("calendar")),
        ("site_configuration", _("settings")),
        ("membership", _("staff and roles")),
    ]
    model = forms.ChoiceField(label=_("what"), choices=MODELS, required=False)
    actor = PersonChoice(label=_("changed by"), queryset=User.objects.none(), required=False)
    since = forms.DateField(
        label=_("from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, site=None, **kwargs):
        super().__init__(*args, **kwargs)
        if site is not None:
            self.fields["actor"].queryset = site_people(site)


class ReplyTemplateForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=200, required=False)
    name_en = forms.CharField(label=_("English name"), max_length=200, required=False)
    investigation = forms.CharField(label=_("investigation"), widget=forms.Textarea, required=False)
    facts = forms.CharField(label=_("facts and evidence"), widget=forms.Textarea, required=False)
    responsibility = forms.CharField(
        label=_("responsibility"), widget=forms.Textarea, required=False
    )
    decision = forms.CharField(label=_("decision"), widget=forms.Textarea, required=False)
    active = forms.BooleanField(label=_("in use"), required=False, initial=True)
