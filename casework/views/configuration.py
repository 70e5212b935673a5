"""The site admin's configuration screens: tiers and their clocks (with a preview of the
deadlines they give), departments, categories, the calendar, the site's settings, staff and
their roles, and the history of every change.

Who: the site admin changes things. Managers of the site, and the region's and firm's
oversight roles, may look (read-only: the forms are not shown and a POST is refused with
403); everybody else gets 403. Objects are looked up in the current site's schema only
(memberships by this site), so an id from another site is a 404. A refused change
re-renders the screen with what was typed and the service's errors next to the fields
(status 400); nothing was changed.
"""

from contextlib import contextmanager
from datetime import datetime, time, timedelta
from functools import wraps
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_safe

from casework import services
from casework.forms import configuration as config_forms
from casework.models import (
    CalendarDay,
    Category,
    Department,
    MilestoneRule,
    SiteConfiguration,
    Tier,
)
from casework.selectors import (
    configuration_history,
    department_tree,
    open_case_count,
    preview_deadlines,
    site_calendar,
    site_configuration,
)
from tenants.models import Membership, Role
from tenants.permissions import current_site_roles, site_role_required
from tenants.selectors import site_staff

EDITORS = frozenset({Role.SITE_ADMIN})
VIEWERS = frozenset(
    {
        Role.SITE_ADMIN,
        Role.SERVICE_CENTRE_MANAGER,
        Role.PROJECT_MANAGER,
        Role.REGIONAL_MANAGER,
        Role.FIRM_ADMIN,
    }
)


def viewers_only(view):
    """Viewers may look; anything but a look (a POST) is the site admin's alone."""

    @site_role_required(*VIEWERS)
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            _require_editor(request)
        return view(request, *args, **kwargs)

    return wrapped


@contextmanager
def site_time(request):
    """Times read and shown in the site's time zone, whatever the server's."""
    with timezone.override(ZoneInfo(getattr(request.tenant, "time_zone", "Asia/Shanghai"))):
        yield


def _may_edit(request) -> bool:
    return bool(current_site_roles(request) & EDITORS)


def _require_editor(request) -> None:
    if not _may_edit(request):
        raise PermissionDenied("Only the site admin changes the site's configuration.")


def _page(request, template: str, context: dict, status: int = 200):
    context.setdefault("may_edit", _may_edit(request))
    return render(request, f"casework/configuration/{template}", context, status=status)


def _say_how_many(form, *, tier=None) -> None:
    """Next to 'apply to open cases': how many cases it would re-base."""
    field = form.fields.get("apply_to_open_cases")
    if field is None:
        return
    count = open_case_count(tier=tier)
    field.help_text = f"{field.help_text} " + ngettext(
        "%(count)s open case would be re-based.", "%(count)s open cases would be re-based.", count
    ) % {"count": count}


def _put_back(form, error: ValidationError, aliases: dict | None = None) -> None:
    """A service's refusal, next to the fields it names (the rest above the form)."""
    aliases = aliases or {}
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            field = aliases.get(field, field)
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _attempt(form, call, aliases: dict | None = None):
    """Run a service call for a valid form; on refusal put its errors on the form."""
    if not form.is_valid():
        return None
    try:
        return call() or True
    except ValidationError as error:
        _put_back(form, error, aliases)
        return None


def _done(request, message: str, to: str, *args):
    messages.success(request, message)
    return redirect(to, *args)


def _preview_at(request, calendar) -> datetime:
    """The registration moment of the preview: typed (site time) or now."""
    data = request.POST if "at" in request.POST else request.GET
    form = config_forms.PreviewForm(data or None)
    if form.is_valid() and form.cleaned_data["at"]:
        at = form.cleaned_data["at"]
        return at if timezone.is_aware(at) else timezone.make_aware(at, calendar.tz)
    return timezone.localtime(timezone.now(), calendar.tz)


# --- The history's words -------------------------------------------------------------------

ACTIONS = {
    "created": gettext_lazy("created"),
    "updated": gettext_lazy("changed"),
    "moved": gettext_lazy("moved"),
    "retired": gettext_lazy("retired"),
    "restored": gettext_lazy("restored"),
    "removed": gettext_lazy("removed"),
    "granted": gettext_lazy("role given"),
    "invited": gettext_lazy("invited"),
    "revoked": gettext_lazy("role taken away"),
}
MODELS = {
    "tier": Tier,
    "milestone_rule": MilestoneRule,
    "department": Department,
    "category": Category,
    "calendar_day": CalendarDay,
    "site_configuration": SiteConfiguration,
    "membership": Membership,
}


def _field_label(model, key: str) -> str:
    try:
        return str(model._meta.get_field(key).verbose_name) if model else key
    except FieldDoesNotExist:  # a key of the log that is not a field (e.g. "rules", "user")
        return key


def described(changes) -> list:
    """Audit rows with what a reader needs: the thing, the action and each field's label
    in the reader's language, with its value before and after."""
    rows = []
    for change in changes:
        model = MODELS.get(change.model)
        keys = list(dict.fromkeys([*change.before, *change.after]))
        change.thing = str(model._meta.verbose_name) if model else change.model
        change.action_label = str(ACTIONS.get(change.action, change.action))
        change.fields = [
            (_field_label(model, key), change.before.get(key, ""), change.after.get(key, ""))
            for key in keys
        ]
        rows.append(change)
    return rows


# --- The overview ------------------------------------------------------------------------------


@viewers_only
@require_safe
def configuration_home(request):
    with site_time(request):
        tiers = Tier.objects.prefetch_related("milestone_rules").order_by("rank")
        return _page(
            request,
            "home.html",
            {
                "tiers": tiers,
                "configuration": site_configuration(),
                "recent": described(configuration_history()[:8]),
            },
        )


# --- Tiers and their clocks ----------------------------------------------------------------------


def _tier_initial(tier: Tier) -> dict:
    return {
        "name": tier.name,
        "name_en": tier.name_en,
        "rank": tier.rank,
        "description": tier.description,
        "handler_role": tier.handler_role,
        "extension_approver_role": tier.extension_approver_role,
        "close_approver_role": tier.close_approver_role,
        "upgrade_after_days": tier.upgrade_after_days,
        "upgrade_to": tier.upgrade_to_id,
        "pause_reasons": ", ".join(tier.pause_reasons),
    }


@viewers_only
def tier_page(request, tier_id: int):
    tier = get_object_or_404(Tier, pk=tier_id)
    with site_time(request):
        form = config_forms.TierForm(initial=_tier_initial(tier), tier=tier)
        status = 200
        if request.method == "POST":
            _require_editor(request)
            form = config_forms.TierForm(request.POST, tier=tier)
            done = _attempt(
                form,
                lambda: services.update_tier(
                    tier=tier,
                    by=request.user,
                    apply_to_open_cases=form.cleaned_data["apply_to_open_cases"],
                    note=form.cleaned_data["note"],
                    **form.tier_fields(),
                ),
            )
            if done:
                return _done(request, _("Tier saved."), "configuration-tier", tier.pk)
            status = 400
        _say_how_many(form, tier=tier)
        calendar = site_calendar()
        at = _preview_at(request, calendar)
        return _page(
            request,
            "tier.html",
            {
                "tier": tier,
                "form": form,
                "preview": preview_deadlines(tier=tier, at=at, calendar=calendar),
                "retired_rules": tier.milestone_rules.filter(active=False),
                "preview_form": config_forms.PreviewForm(initial={"at": at}),
                "preview_at": at,
            },
            status,
        )


@viewers_only
def tier_new(request):
    form = config_forms.TierForm(initial={"rank": Tier.objects.count() + 1})
    status = 200
    if request.method == "POST":
        _require_editor(request)
        form = config_forms.TierForm(request.POST)
        tier = _attempt(
            form,
            lambda: services.create_tier(
                by=request.user,
                code=form.cleaned_data["code"],
                note=form.cleaned_data["note"],
                **form.tier_fields(),
            ),
        )
        if tier:
            return _done(
                request, _("Tier created: now add its clocks."), "configuration-tier", tier.pk
            )
        status = 400
    return _page(request, "tier_new.html", {"form": form}, status)


def _rule_initial(rule: MilestoneRule) -> dict:
    return {
        "name": rule.name,
        "name_en": rule.name_en,
        "amount": rule.amount,
        "unit": rule.unit,
        "met_by": rule.met_by,
        "escalation_chain": list(rule.escalation_chain),
        "position": rule.position,
    }


def _typed_override(form, rule) -> dict:
    """The duration typed on the rule form (saved or not) for the preview."""
    data = form.data
    try:
        amount = int(data.get("amount", rule.amount if rule else 0))
    except (TypeError, ValueError):
        return {}
    unit = data.get("unit", rule.unit if rule else "")
    return {rule.pk: (amount, unit)} if rule else {}


def _rule_context(request, *, tier, rule, form) -> dict:
    calendar = site_calendar()
    at = _preview_at(request, calendar)
    overrides = _typed_override(form, rule) if form.is_bound else {}
    _say_how_many(form, tier=tier)
    chain = form["escalation_chain"].value() or []
    return {
        "tier": tier,
        "rule": rule,
        "form": form,
        "chain_levels": [
            chain[i] if i < len(chain) else "" for i in range(config_forms.CHAIN_LEVELS)
        ],
        "chain_roles": config_forms.CHAIN_ROLE_CHOICES,
        "preview": preview_deadlines(tier=tier, at=at, overrides=overrides, calendar=calendar),
        "preview_form": config_forms.PreviewForm(initial={"at": at}),
        "preview_at": at,
    }


@viewers_only
def rule_page(request, rule_id: int):
    rule = get_object_or_404(MilestoneRule.objects.select_related("tier"), pk=rule_id)
    with site_time(request):
        form = config_forms.RuleForm(initial=_rule_initial(rule))
        status = 200
        if request.method == "POST":
            _require_editor(request)
            form = config_forms.RuleForm(request.POST)
            if "preview" in request.POST:
                form.is_valid()  # errors shown, nothing saved
                context = _rule_context(request, tier=rule.tier, rule=rule, form=form)
                return _page(request, "rule.html", context)
            done = _attempt(
                form,
                lambda: services.update_milestone_rule(
                    rule=rule,
                    by=request.user,
                    apply_to_open_cases=form.cleaned_data["apply_to_open_cases"],
                    note=form.cleaned_data["note"],
                    **form.rule_fields(),
                ),
            )
            if done:
                return _done(request, _("Clock saved."), "configuration-tier", rule.tier_id)
            status = 400
        context = _rule_context(request, tier=rule.tier, rule=rule, form=form)
        return _page(request, "rule.html", context, status)


@viewers_only
@require_safe
def rule_preview(request, rule_id: int):
    """The preview alone, for the rule form's progressive enhancement (htmx): the durations
    typed so far, nothing saved."""
    rule = get_object_or_404(MilestoneRule.objects.select_related("tier"), pk=rule_id)
    with site_time(request):
        form = config_forms.RuleForm(request.GET)
        context = _rule_context(request, tier=rule.tier, rule=rule, form=form)
        return render(request, "casework/configuration/_preview.html", context)


@viewers_only
def rule_new(request, tier_id: int):
    tier = get_object_or_404(Tier, pk=tier_id)
    with site_time(request):
        form = config_forms.RuleForm(
            initial={"unit": "working_days", "position": tier.milestone_rules.count() + 1},
            creating=True,
        )
        status = 200
        if request.method == "POST":
            _require_editor(request)
            form = config_forms.RuleForm(request.POST, creating=True)
            done = _attempt(
                form,
                lambda: services.add_milestone_rule(
                    tier=tier,
                    by=request.user,
                    code=form.cleaned_data["code"],
                    apply_to_open_cases=form.cleaned_data["apply_to_open_cases"],
                    note=form.cleaned_data["note"],
                    **form.rule_fields(),
                ),
            )
            if done:
                return _done(request, _("Clock added."), "configuration-tier", tier.pk)
            status = 400
        context = _rule_context(request, tier=tier, rule=None, form=form)
        return _page(request, "rule.html", context, status)


@viewers_only
def rule_retire(request, rule_id: int):
    rule = get_object_or_404(MilestoneRule.objects.select_related("tier"), pk=rule_id)
    if request.method != "POST":
        return redirect("configuration-rule", rule.pk)
    _require_editor(request)
    # One form toggles: a retired clock is offered a restore, an active one a retirement.
    restore = not rule.active
    act = services.restore_milestone_rule if restore else services.retire_milestone_rule
    try:
        act(rule=rule, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("configuration-rule", rule.pk)
    said = _("Clock restored.") if restore else _("Clock taken off the tier.")
    return _done(request, said, "configuration-tier", rule.tier_id)


# --- Departments -------------------------------------------------------------------------------


@viewers_only
def departments(request):
    form = config_forms.DepartmentForm(creating=True)
    status = 200
    if request.method == "POST":
        _require_editor(request)
        form = config_forms.DepartmentForm(request.POST, creating=True)
        department = _attempt(
            form,
            lambda: services.create_department(
                by=request.user,
                code=form.cleaned_data["code"],
                name=form.cleaned_data["name"],
                name_en=form.cleaned_data["name_en"],
                parent=form.cleaned_data["parent"],
                position=form.cleaned_data["position"] or 0,
            ),
        )
        if department:
            return _done(
                request, _("Department created."), "configuration-department", department.pk
            )
        status = 400
    return _page(request, "departments.html", {"tree": department_tree(), "form": form}, status)


@viewers_only
def department_page(request, department_id: int):
    department = get_object_or_404(Department, pk=department_id)
    site = request.tenant
    forms = {
        "names": config_forms.DepartmentForm(
            initial={
                "name": department.name,
                "name_en": department.name_en,
                "position": department.position,
            }
        ),
        "move": config_forms.MoveDepartmentForm(initial={"parent": department.parent_id}),
        "people": config_forms.DepartmentPeopleForm(
            site=site,
            initial={
                "supervisor": department.supervisor_id,
                "members": list(department.members.values_list("pk", flat=True)),
            },
        ),
    }
    status = 200
    if request.method == "POST":
        _require_editor(request)
        action = request.POST.get("action")
        done = None
        if action == "names":
            form = forms["names"] = config_forms.DepartmentForm(request.POST)
            done = _attempt(
                form,
                lambda: services.update_department(
                    department=department,
                    by=request.user,
                    name=form.cleaned_data["name"],
                    name_en=form.cleaned_data["name_en"],
                    position=form.cleaned_data["position"] or 0,
                ),
            )
        elif action == "move":
            form = forms["move"] = config_forms.MoveDepartmentForm(request.POST)
            done = _attempt(
                form,
                lambda: services.move_department(
                    department=department, by=request.user, parent=form.cleaned_data["parent"]
                ),
            )
        elif action == "people":
            form = forms["people"] = config_forms.DepartmentPeopleForm(request.POST, site=site)
            done = _attempt(
                form,
                lambda: services.set_department_people(
                    department=department,
                    by=request.user,
                    supervisor=form.cleaned_data["supervisor"],
                    members=list(form.cleaned_data["members"]),
                ),
            )
        elif action in ("retire", "restore"):
            call = services.retire_department if action == "retire" else services.restore_department
            try:
                call(department=department, by=request.user)
                done = True
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
                return redirect("configuration-department", department.pk)
        if done:
            return _done(request, _("Department saved."), "configuration-department", department.pk)
        status = 400
    return _page(
        request,
        "department.html",
        {
            "department": department,
            "forms": forms,
            "cases": department.led_cases.count(),
        },
        status,
    )


# --- Categories --------------------------------------------------------------------------------


def _category_values(form) -> dict:
    data = dict(form.cleaned_data)
    data.pop("kind", None)
    return data


@viewers_only
def categories(request):
    form = config_forms.CategoryForm(creating=True)
    status = 200
    if request.method == "POST":
        _require_editor(request)
        form = config_forms.CategoryForm(request.POST, creating=True)
        category = _attempt(
            form,
            lambda: services.save_category(
                by=request.user, kind=form.cleaned_data["kind"], **_category_values(form)
            ),
        )
        if category:
            return _done(request, _("Category saved."), "configuration-categories")
        status = 400
    listing = Category.objects.select_related("parent").order_by("kind", "parent_id", "code")
    return _page(request, "categories.html", {"categories": listing, "form": form}, status)


@viewers_only
def category_page(request, category_id: int):
    category = get_object_or_404(Category, pk=category_id)
    form = config_forms.CategoryForm(
        initial={
            "code": category.code,
            "name": category.name,
            "name_en": category.name_en,
            "parent": category.parent_id,
            "is_valid_complaint": category.is_valid_complaint,
            "requires_signoff": category.requires_signoff,
            "is_active": category.is_active,
        }
    )
    status = 200
    if request.method == "POST":
        _require_editor(request)
        form = config_forms.CategoryForm(request.POST)
        done = _attempt(
            form,
            lambda: services.save_category(
                by=request.user, category=category, **_category_values(form)
            ),
        )
        if done:
            return _done(request, _("Category saved."), "configuration-categories")
        status = 400
    return _page(request, "category.html", {"category": category, "form": form}, status)


# --- The calendar ------------------------------------------------------------------------------


@viewers_only
def calendar_page(request):
    with site_time(request):
        form = config_forms.CalendarDayForm()
        status = 200
        if request.method == "POST":
            _require_editor(request)
            form = config_forms.CalendarDayForm(request.POST)
            done = _attempt(
                form,
                lambda: services.add_calendar_day(
                    by=request.user,
                    day=form.cleaned_data["day"],
                    kind=form.cleaned_data["kind"],
                    note=form.cleaned_data["day_note"],
                    apply_to_open_cases=form.cleaned_data["apply_to_open_cases"],
                ),
                aliases={"note": "day_note"},
            )
            if done:
                return _done(request, _("Calendar saved."), "configuration-calendar")
            status = 400
        _say_how_many(form)
        calendar = site_calendar()
        today = timezone.localdate(timezone=calendar.tz)
        days = CalendarDay.objects.filter(day__gte=today - timedelta(days=31))
        return _page(
            request,
            "calendar.html",
            {
                "form": form,
                "days": days,
                "gap": calendar.first_uncovered_day(today),
                "data_until": calendar.official_data_until(),
                "configuration": site_configuration(),
                "remove_form": config_forms.RemoveCalendarDayForm(),
            },
            status,
        )


@viewers_only
def calendar_remove(request, day_id: int):
    calendar_day = get_object_or_404(CalendarDay, pk=day_id)
    if request.method != "POST":
        return redirect("configuration-calendar")
    _require_editor(request)
    form = config_forms.RemoveCalendarDayForm(request.POST)
    form.is_valid()
    services.remove_calendar_day(
        calendar_day=calendar_day,
        by=request.user,
        apply_to_open_cases=form.cleaned_data.get("apply_to_open_cases", False),
    )
    return _done(request, _("Calendar saved."), "configuration-calendar")


# --- Settings ----------------------------------------------------------------------------------


def _reference_preview(pattern: str, configuration) -> tuple[str, str]:
    """(example, error) for a typed reference pattern."""
    try:
        return services.reference_example(
            pattern, category_code=configuration.default_category_code
        ), ""
    except ValidationError as error:
        return "", " ".join(error.messages)


@viewers_only
def settings_page(request):
    configuration = site_configuration()
    with site_time(request):
        initial = config_forms.SettingsForm.initial_from(configuration)
        form = config_forms.SettingsForm(
            initial=initial, site=request.tenant, limits=configuration.compensation_limits
        )
        status = 200
        if request.method == "POST":
            _require_editor(request)
            form = config_forms.SettingsForm(
                request.POST,
                initial=initial,
                site=request.tenant,
                limits=configuration.compensation_limits,
            )
            done = _attempt(
                form,
                lambda: services.update_site_configuration(
                    by=request.user,
                    apply_to_open_cases=form.cleaned_data["apply_to_open_cases"],
                    note=form.cleaned_data["note"],
                    **form.settings_fields(),
                ),
            )
            if done:
                return _done(request, _("Settings saved."), "configuration-settings")
            status = 400
        _say_how_many(form)
        pattern = form["reference_pattern"].value() or ""
        example, problem = _reference_preview(pattern, configuration)
        return _page(
            request,
            "settings.html",
            {"form": form, "example": example, "problem": problem},
            status,
        )


@viewers_only
@require_safe
def reference_preview(request):
    """The example reference of a typed pattern (htmx fragment), dated today on the site."""
    with site_time(request):
        example, problem = _reference_preview(
            request.GET.get("reference_pattern", ""), site_configuration()
        )
    return render(
        request,
        "casework/configuration/_reference.html",
        {"example": example, "problem": problem},
    )


# --- Staff and their roles ---------------------------------------------------------------------


def _invite_available() -> bool:
    from tenants import services as tenant_services

    return hasattr(tenant_services, "invite_to_site")


@viewers_only
def staff_page(request):
    form = config_forms.StaffForm()
    status = 200
    if request.method == "POST":
        _require_editor(request)
        form = config_forms.StaffForm(request.POST)
        membership = _attempt(form, lambda: _add_staff(request, form.cleaned_data))
        if membership:
            return _done(
                request,
                _("%(person)s is now %(role)s here.")
                % {"person": membership.user, "role": membership.get_role_display()},
                "configuration-staff",
            )
        status = 400
    return _page(
        request,
        "staff.html",
        {
            "staff": site_staff(site=request.tenant),
            "form": form,
            "invites": _invite_available(),
        },
        status,
    )


def _add_staff(request, data):
    from tenants.models import User

    if _invite_available():
        return services.invite_staff(by=request.user, email=data["email"], role=data["role"])
    user = User.objects.filter(email__iexact=data["email"].strip()).first()
    if user is None:
        raise ValidationError({"email": _("Nobody has a Carefront login with this address yet.")})
    return services.grant_site_role(by=request.user, user=user, role=data["role"])


@viewers_only
def staff_revoke(request, membership_id: int):
    # Memberships live in the public schema: only this site's are found here.
    membership = get_object_or_404(Membership, pk=membership_id, site=request.tenant)
    if request.method != "POST":
        return redirect("configuration-staff")
    _require_editor(request)
    try:
        services.revoke_site_role(by=request.user, membership=membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("configuration-staff")
    return _done(request, _("Role taken away."), "configuration-staff")


# --- History -----------------------------------------------------------------------------------


@viewers_only
@require_safe
def history(request):
    with site_time(request):
        form = config_forms.HistoryFilterForm(request.GET or None, site=request.tenant)
        filters = {}
        if form.is_valid():
            data = form.cleaned_data
            tz = timezone.get_current_timezone()
            filters = {
                "model": data["model"],
                "actor_id": data["actor"].pk if data["actor"] else None,
                "since": timezone.make_aware(datetime.combine(data["since"], time()), tz)
                if data["since"]
                else None,
                "until": timezone.make_aware(
                    datetime.combine(data["until"] + timedelta(days=1), time()), tz
                )
                if data["until"]
                else None,
            }
        page = Paginator(configuration_history(**filters), 50).get_page(request.GET.get("page"))
        page.object_list = described(page.object_list)
        query = request.GET.copy()
        query.pop("page", None)
        return _page(
            request,
            "history.html",
            {"form": form, "page": page, "query": query.urlencode()},
        )


# --- Reply templates (the site admin's alone: they are wording, not rules to look at) ----------


@site_role_required(*EDITORS)
def reply_templates(request):
    from casework.models import ReplyTemplate

    form = config_forms.ReplyTemplateForm()
    status = 200
    if request.method == "POST":
        form = config_forms.ReplyTemplateForm(request.POST)
        if _attempt(
            form, lambda: services.save_reply_template(by=request.user, **form.cleaned_data)
        ):
            return _done(request, _("Reply template saved."), "configuration-reply-templates")
        status = 400
    listing = ReplyTemplate.objects.order_by("-active", "name")
    return _page(request, "reply_templates.html", {"templates": listing, "form": form}, status)


@site_role_required(*EDITORS)
def reply_template_page(request, template_id: int):
    from casework.models import ReplyTemplate

    template = get_object_or_404(ReplyTemplate, pk=template_id)
    fields = services.REPLY_TEMPLATE_FIELDS
    form = config_forms.ReplyTemplateForm(initial={f: getattr(template, f) for f in fields})
    status = 200
    if request.method == "POST":
        form = config_forms.ReplyTemplateForm(request.POST)
        saved = _attempt(
            form,
            lambda: services.save_reply_template(
                by=request.user, template=template, **form.cleaned_data
            ),
        )
        if saved:
            return _done(request, _("Reply template saved."), "configuration-reply-templates")
        status = 400
    return _page(request, "reply_template.html", {"template": template, "form": form}, status)
