"""The forms of the case page, one per action. They parse what was typed and offer only this
case's own milestones, extensions and compensations; every rule of the domain is checked by
the service the view calls (casework.services), whose errors are put back on these forms."""

from functools import cached_property

from django import forms
from django.forms.models import ModelChoiceIterator
from django.utils.translation import gettext_lazy as _

from casework.models import (
    Approval,
    Case,
    CaseLink,
    CaseOutcome,
    Category,
    CategoryKind,
    ContactLog,
    Department,
    EscalationLevel,
    MetBy,
    MilestoneState,
    ReplyTemplate,
    Tier,
)
from tenants.models import User

# The pause reasons the templates use; a site's own reason shows as its code.
PAUSE_REASONS = {
    "awaiting_complainant": _("waiting for the complainant"),
    "awaiting_third_party": _("waiting for a third party"),
    "awaiting_parts": _("waiting for parts"),
    "awaiting_insurer": _("waiting for the insurer"),
    "awaiting_police": _("waiting for the police"),
}

REPLY_METHODS = [*ContactLog.Method.choices, ("written", _("written reply"))]


def pause_reason_label(code: str) -> str:
    return str(PAUSE_REASONS.get(code, code.replace("_", " ")))


class StaffChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.email


class StaffMultipleChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.email


def site_staff_users(site):
    """Everyone holding a role on the site itself (the people who can be on a case)."""
    return (
        User.objects.filter(memberships__site=site, is_active=True)
        .distinct()
        .order_by("last_name", "first_name", "email")
    )


def active_departments():
    return Department.objects.filter(is_active=True)


class PageChoices:
    """What several forms of one case page offer (departments, staff, tiers, categories), each
    read once for all of them and only when a form shows it. The forms still validate what is
    posted against their own querysets."""

    def __init__(self, *, site):
        self.site = site

    @cached_property
    def departments(self) -> list:
        """Every department, retired ones too (the timeline names them)."""
        return list(Department.objects.all())

    @cached_property
    def active_departments(self) -> list:
        return [d for d in self.departments if d.is_active]

    @cached_property
    def staff(self) -> list:
        return list(site_staff_users(self.site))

    @cached_property
    def tiers(self) -> list:
        return list(Tier.objects.all())

    @cached_property
    def _categories(self) -> list:
        kinds = (CategoryKind.NATURE, CategoryKind.CONTENT)
        return list(Category.objects.filter(kind__in=kinds, is_active=True))

    def categories(self, kind: str) -> list:
        return [c for c in self._categories if c.kind == kind]


class _ListedChoices(ModelChoiceIterator):
    """A model choice field's options from objects already read, instead of a query per
    field."""

    def __init__(self, field, objects):
        super().__init__(field)
        self.objects = objects

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.objects:
            yield self.choice(obj)

    def __len__(self):
        return len(self.objects) + (self.field.empty_label is not None)

    def __bool__(self):
        return self.field.empty_label is not None or bool(self.objects)


# Django's own markup, one template per widget instead of one per option.
_WIDGET_TEMPLATES = {
    forms.Select: "casework/widgets/select.html",
    forms.CheckboxSelectMultiple: "casework/widgets/checkbox_select.html",
}


class CaseActionForm(forms.Form):
    """A form of the case page: knows its case and the site, to offer only what belongs to
    them. `choices`: the page's shared `PageChoices` (one is made for a form alone)."""

    template_name_div = "casework/case/form.html"

    def __init__(self, *args, case: Case, site, choices: PageChoices | None = None, **kwargs):
        self.case, self.site = case, site
        self.choices = choices or PageChoices(site=site)
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            template = _WIDGET_TEMPLATES.get(type(field.widget))
            if template:
                field.widget.template_name = template

    def offer(self, name: str, objects) -> None:
        """Show `objects` (already read) as the options of the model choice field `name`."""
        field = self.fields[name]
        field.widget.choices = _ListedChoices(field, objects)


class ClassifyForm(CaseActionForm):
    tier = forms.ModelChoiceField(label=_("Tier"), queryset=Tier.objects.all())
    nature = forms.ModelChoiceField(
        label=_("Nature"),
        queryset=Category.objects.filter(kind=CategoryKind.NATURE, is_active=True),
        required=False,
    )
    content = forms.ModelChoiceField(
        label=_("Content"),
        queryset=Category.objects.filter(kind=CategoryKind.CONTENT, is_active=True),
        required=False,
    )
    cooperating_departments = forms.ModelMultipleChoiceField(
        label=_("Cooperating departments"),
        queryset=Department.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    persons_complained_about = StaffMultipleChoice(
        label=_("Staff complained about (never shown the complainant's details)"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["persons_complained_about"].queryset = site_staff_users(self.site)
        choices = self.choices
        self.offer("tier", choices.tiers)
        self.offer("nature", choices.categories(CategoryKind.NATURE))
        self.offer("content", choices.categories(CategoryKind.CONTENT))
        self.offer("cooperating_departments", choices.active_departments)
        self.offer("persons_complained_about", choices.staff)
        if not self.is_bound:
            case = self.case
            self.initial.update(
                tier=case.tier_id,
                nature=case.nature_id,
                content=case.content_id,
                cooperating_departments=[d.pk for d in case.cooperating_departments.all()],
                persons_complained_about=[p.pk for p in case.persons_complained_about.all()],
            )


class DispatchForm(CaseActionForm):
    department = forms.ModelChoiceField(label=_("Department"), queryset=active_departments())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.offer("department", self.choices.active_departments)
        if not self.is_bound:
            self.initial["department"] = self.case.lead_department_id


class HandoverForm(CaseActionForm):
    to_department = forms.ModelChoiceField(label=_("Hand over to"), queryset=active_departments())
    note = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.offer("to_department", self.choices.active_departments)


class AcceptHandoverForm(CaseActionForm):
    """Accepts the case's one pending hand-over."""


class ContactForm(CaseActionForm):
    method = forms.ChoiceField(label=_("How"), choices=ContactLog.Method.choices)
    summary = forms.CharField(label=_("What was said"), widget=forms.Textarea(attrs={"rows": 3}))
    second_staff = StaffChoice(
        label=_("Second member of staff present (face-to-face)"),
        queryset=User.objects.none(),
        required=False,
    )
    acceptance_decision = forms.ChoiceField(
        label=_("Acceptance decision told to the complainant"),
        choices=[("", _("none")), ("accepted", _("accepted")), ("not_accepted", _("not accepted"))],
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["second_staff"].queryset = site_staff_users(self.site)
        self.offer("second_staff", self.choices.staff)


class PauseForm(CaseActionForm):
    reason = forms.ChoiceField(label=_("Reason"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [
            (code, pause_reason_label(code)) for code in self.case.tier.pause_reasons
        ]


class ResumeForm(CaseActionForm):
    pass


class ReplyForm(CaseActionForm):
    method = forms.ChoiceField(label=_("Reply by"), choices=REPLY_METHODS, initial="written")
    investigation = forms.CharField(
        label=_("Investigation"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    facts = forms.CharField(
        label=_("Facts and evidence"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    responsibility = forms.CharField(
        label=_("Responsibility"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    decision = forms.CharField(label=_("Decision"), widget=forms.Textarea(attrs={"rows": 3}))
    delay_reason = forms.CharField(
        label=_("Reason for the delay (a late reply)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )
    legal_route_advised = forms.BooleanField(
        label=_("The complainant was told of the legal route"), required=False
    )

    def __init__(self, *args, template: ReplyTemplate | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if template is not None and not self.is_bound:
            for field in ("investigation", "facts", "responsibility", "decision"):
                self.initial[field] = getattr(template, field)


class ReplyTemplateForm(forms.Form):
    """The GET form that fills the reply form from a template (no JavaScript needed)."""

    label_suffix = ""

    reply_template = forms.ModelChoiceField(
        label=_("Start from a template"),
        queryset=ReplyTemplate.objects.filter(active=True),
        required=False,
    )


class MilestoneChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.rule.display_name


def _running(case) -> list:
    """The case's clocks still running, from the milestones (with their rules) the case page
    prefetched, in the order of the field's queryset."""
    return [
        m for m in case.milestones.all() if m.met_at is None and m.state != MilestoneState.CANCELLED
    ]


class ExtensionForm(CaseActionForm):
    milestone = MilestoneChoice(label=_("Clock"), queryset=None)
    new_due_at = forms.DateTimeField(
        label=_("New due time"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["milestone"].queryset = (
            self.case.milestones.filter(met_at=None)
            .exclude(state=MilestoneState.CANCELLED)
            .select_related("rule")
        )
        self.offer("milestone", _running(self.case))


class ExtensionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.milestone.rule.display_name} → {obj.new_due_at:%Y-%m-%d %H:%M}"


class ExtensionDecideForm(CaseActionForm):
    extension = ExtensionChoice(label=_("Extension"), queryset=None)
    approve = forms.TypedChoiceField(
        label=_("Decision"),
        choices=[("yes", _("approve")), ("no", _("refuse"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from casework.models import Extension

        self.fields["extension"].queryset = Extension.objects.filter(
            milestone__case=self.case, approved=None
        ).select_related("milestone__rule")


class CompensationForm(CaseActionForm):
    amount = forms.DecimalField(
        label=_("Amount (yuan)"), max_digits=12, decimal_places=2, min_value=0
    )
    description = forms.CharField(
        label=_("What is compensated"), widget=forms.Textarea(attrs={"rows": 2})
    )


class CompensationChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"¥{obj.amount} · {obj.description[:40]}"


class CompensationApproveForm(CaseActionForm):
    compensation = CompensationChoice(label=_("Compensation"), queryset=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["compensation"].queryset = self.case.compensations.filter(approved_at=None)
        # The case page has the case's compensations prefetched already.
        self.offer("compensation", [c for c in self.case.compensations.all() if not c.approved_at])


class CallbackForm(CaseActionForm):
    method = forms.ChoiceField(label=_("How"), choices=ContactLog.Method.choices)
    satisfied = forms.TypedChoiceField(
        label=_("Is the complainant satisfied?"),
        choices=[("yes", _("satisfied")), ("no", _("dissatisfied: re-open the case"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    rating = forms.TypedChoiceField(
        label=_("Rating"),
        choices=[("", "—"), *[(str(n), str(n)) for n in range(1, 6)]],
        coerce=int,
        empty_value=None,
        required=False,
    )
    note = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


class LinkForm(CaseActionForm):
    reference = forms.CharField(label=_("Reference of the other case"), max_length=40)
    kind = forms.ChoiceField(label=_("Kind of link"), choices=CaseLink.Kind.choices)

    def clean_reference(self):
        reference = self.cleaned_data["reference"].strip()
        other = Case.objects.filter(reference__iexact=reference).first()
        if other is None:
            raise forms.ValidationError(_("This site has no case with this reference."))
        self.cleaned_data["other"] = other
        return reference


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class AttachForm(CaseActionForm):
    attachments = MultipleFileField(
        label=_("Photos or documents (JPEG, PNG, WebP or PDF, up to 5 files of 10 MB)")
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


class ApproveClosureForm(CaseActionForm):
    kind = forms.ChoiceField(label=_("Approval of"), choices=Approval.Kind.choices)
    note = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class CloseForm(CaseActionForm):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=CaseOutcome.choices)
    complainant_signed_off = forms.BooleanField(
        label=_("The complainant signed off the repair"), required=False
    )
    note = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


class EscalationForm(CaseActionForm):
    level = forms.ChoiceField(label=_("The complainant went to"), choices=EscalationLevel.choices)
    note = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


class CompleteMilestoneForm(CaseActionForm):
    milestone = MilestoneChoice(label=_("Clock"), queryset=None)
    note = forms.CharField(label=_("What was done"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["milestone"].queryset = (
            self.case.milestones.filter(met_at=None, rule__met_by=MetBy.MANUAL)
            .exclude(state=MilestoneState.CANCELLED)
            .select_related("rule")
        )
        self.offer("milestone", [m for m in _running(self.case) if m.rule.met_by == MetBy.MANUAL])
