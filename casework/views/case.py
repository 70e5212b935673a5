"""The case page: timeline, complainant, milestones, and every action the user's roles allow,
each one POST URL that calls a casework service and redirects back (post/redirect/get). A
refused action re-renders the page with the form as typed and the service's errors next to
its fields (status 400): nothing was changed. And the printable case sheet (PDF).

Which forms a page offers comes from `casework.selectors.available_actions`; a POST is
refused here (403) only for roles that may not act on cases at all (oversight roles). The
rest is the services' to refuse, so that a forged POST meets the same rules as the page.
"""

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from casework import services
from casework.forms import case as case_forms
from casework.models import Case, Department, ReplyTemplate
from casework.selectors import (
    CASE_HANDLERS,
    available_actions,
    case_for_page,
    case_timeline,
    complainant_details,
    may_see_complainant,
)
from tenants.permissions import current_site_roles, site_role_required


@contextmanager
def site_time(request):
    """Times read and shown in the site's time zone, whatever the server's."""
    with timezone.override(ZoneInfo(getattr(request.tenant, "time_zone", "Asia/Shanghai"))):
        yield


def _case_or_404(case_id: int) -> Case:
    case = case_for_page(case_id=case_id)
    if case is None:
        raise Http404
    return case


# --- The actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One action of the case page: its form, the service call, and the words around it."""

    title: str
    form: type
    perform: Callable  # (data, case, user) -> the success message
    button: str = ""


def _classify(data, case, user):
    services.classify_case(
        case=case,
        by=user,
        tier=data["tier"],
        nature=data["nature"],
        content=data["content"],
        cooperating_departments=list(data["cooperating_departments"]),
        persons_complained_about=list(data["persons_complained_about"]),
    )
    return _("Classified.")


def _dispatch(data, case, user):
    services.dispatch_case(case=case, by=user, department=data["department"])
    return _("Dispatched to %(department)s.") % {"department": data["department"]}


def _handover(data, case, user):
    services.hand_over_case(
        case=case, by=user, to_department=data["to_department"], note=data["note"]
    )
    return _("Handed over to %(department)s: you stay responsible until they accept.") % {
        "department": data["to_department"]
    }


def _accept_handover(data, case, user):
    pending = case.handovers.filter(accepted_at=None).first()
    if pending is None:
        raise services.CaseworkError(_("No hand-over of this case is waiting for acceptance."))
    services.accept_handover(handover=pending, by=user)
    return _("Hand-over accepted: the case is yours.")


def _contact(data, case, user):
    services.log_contact(
        case=case,
        by=user,
        method=data["method"],
        summary=data["summary"],
        second_staff=data["second_staff"],
        acceptance_decision=data["acceptance_decision"],
    )
    return _("Contact recorded.")


def _pause(data, case, user):
    services.pause_clock(case=case, by=user, reason=data["reason"])
    return _("Clocks paused.")


def _resume(data, case, user):
    services.resume_clock(case=case, by=user)
    return _("Clocks restarted.")


def _reply(data, case, user):
    services.reply_to_complainant(case=case, by=user, **data)
    return _("Reply recorded.")


def _extension(data, case, user):
    services.request_extension(
        milestone=data["milestone"], by=user, new_due_at=data["new_due_at"], reason=data["reason"]
    )
    return _("Extension requested.")


def _extension_decide(data, case, user):
    services.decide_extension(
        extension=data["extension"], by=user, approve=data["approve"], note=data["note"]
    )
    return _("Extension approved.") if data["approve"] else _("Extension refused.")


def _compensation(data, case, user):
    compensation = services.record_compensation(
        case=case, by=user, amount=data["amount"], description=data["description"]
    )
    if compensation.approved_at:
        return _("Compensation recorded and approved.")
    return _("Compensation recorded: it awaits approval by a role whose limit covers it.")


def _compensation_approve(data, case, user):
    services.approve_compensation(compensation=data["compensation"], by=user)
    return _("Compensation approved.")


def _callback(data, case, user):
    callback = services.record_callback(
        case=case,
        by=user,
        method=data["method"],
        satisfied=data["satisfied"],
        rating=data["rating"],
        note=data["note"],
    )
    if callback.satisfied:
        return _("Call-back recorded: the complainant is satisfied.")
    return _("Call-back recorded: the complainant is dissatisfied, the case is open again.")


def _link(data, case, user):
    services.link_cases(case=case, other=data["other"], kind=data["kind"], by=user)
    return _("Linked to %(reference)s.") % {"reference": data["other"].reference}


def _attach(data, case, user):
    files = services.attach_file(case=case, by=user, upload=data["attachments"], note=data["note"])
    return _("%(count)s file(s) attached.") % {"count": len(files)}


def _approve_closure(data, case, user):
    services.approve_closure(case=case, by=user, kind=data["kind"], note=data["note"])
    return _("Approval recorded.")


def _close(data, case, user):
    services.close_case(
        case=case,
        by=user,
        outcome=data["outcome"],
        complainant_signed_off=data["complainant_signed_off"],
        note=data["note"],
    )
    return _("Case closed.")


def _escalation(data, case, user):
    services.record_escalation_by_complainant(
        case=case, by=user, level=data["level"], note=data["note"]
    )
    return _("Escalation by the complainant recorded.")


def _complete_milestone(data, case, user):
    services.complete_milestone(milestone=data["milestone"], by=user, note=data["note"])
    return _("Clock marked done.")


f = case_forms
# In the order the page shows them: roughly the order a case goes through.
ACTIONS: dict[str, Action] = {
    "accept-handover": Action(
        gettext_lazy("Accept the hand-over"), f.AcceptHandoverForm, _accept_handover
    ),
    "classify": Action(gettext_lazy("Classify"), f.ClassifyForm, _classify),
    "dispatch": Action(gettext_lazy("Dispatch"), f.DispatchForm, _dispatch),
    "contact": Action(gettext_lazy("Log a contact"), f.ContactForm, _contact),
    "reply": Action(gettext_lazy("Reply to the complainant"), f.ReplyForm, _reply),
    "callback": Action(gettext_lazy("Call back"), f.CallbackForm, _callback),
    "approve-closure": Action(
        gettext_lazy("Approve closing"), f.ApproveClosureForm, _approve_closure
    ),
    "close": Action(gettext_lazy("Close the case"), f.CloseForm, _close),
    "handover": Action(gettext_lazy("Hand over"), f.HandoverForm, _handover),
    "extension": Action(gettext_lazy("Request an extension"), f.ExtensionForm, _extension),
    "extension-decide": Action(
        gettext_lazy("Decide an extension"), f.ExtensionDecideForm, _extension_decide
    ),
    "compensation": Action(gettext_lazy("Record compensation"), f.CompensationForm, _compensation),
    "compensation-approve": Action(
        gettext_lazy("Approve compensation"), f.CompensationApproveForm, _compensation_approve
    ),
    "pause": Action(gettext_lazy("Pause the clocks"), f.PauseForm, _pause),
    "resume": Action(gettext_lazy("Restart the clocks"), f.ResumeForm, _resume),
    "complete-milestone": Action(
        gettext_lazy("Mark a clock done"), f.CompleteMilestoneForm, _complete_milestone
    ),
    "link": Action(gettext_lazy("Link another case"), f.LinkForm, _link),
    "attach": Action(gettext_lazy("Attach files"), f.AttachForm, _attach),
    "escalation": Action(
        gettext_lazy("Record an escalation by the complainant (越级投诉)"),
        f.EscalationForm,
        _escalation,
    ),
}
del f


def _form(request, name: str, case: Case, data=None, files=None, choices=None):
    extra = {"choices": choices} if choices is not None else {}
    if name == "reply" and data is None:
        template_id = request.GET.get("reply_template", "")
        if template_id.isdigit():
            extra["template"] = ReplyTemplate.objects.filter(pk=template_id, active=True).first()
    # Ids unique on the page (several forms have a "method" or a "note"); names unchanged.
    return ACTIONS[name].form(
        data, files, case=case, site=request.tenant, auto_id=f"{name}-%s", **extra
    )


def _put_errors(form, error: services.CaseworkError) -> None:
    """The service's refusal on the form: next to the field it names, else above the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


# --- The page ---------------------------------------------------------------------------------

EVENT_LABELS = {
    "registered": pgettext_lazy("timeline event", "Registered"),
    "resolved_at_contact": gettext_lazy("Resolved at contact"),
    "classified": gettext_lazy("Classified"),
    "dispatched": gettext_lazy("Dispatched"),
    "handed_over": gettext_lazy("Handed over"),
    "handover_accepted": gettext_lazy("Hand-over accepted"),
    "handover_overdue": gettext_lazy("Hand-over not accepted in time"),
    "contacted": gettext_lazy("Contact with the complainant"),
    "clock_paused": gettext_lazy("Clocks paused"),
    "clock_resumed": gettext_lazy("Clocks restarted"),
    "extension_requested": gettext_lazy("Extension requested"),
    "extension_approved": gettext_lazy("Extension approved"),
    "extension_refused": gettext_lazy("Extension refused"),
    "compensation_recorded": gettext_lazy("Compensation recorded"),
    "compensation_approved": gettext_lazy("Compensation approved"),
    "replied": gettext_lazy("Reply to the complainant"),
    "called_back": gettext_lazy("Call-back"),
    "linked": gettext_lazy("Linked"),
    "approved_close": gettext_lazy("Closing approved"),
    "approved_unresolvable": gettext_lazy("Closing as unresolvable approved"),
    "closed": gettext_lazy("Closed"),
    "escalated_by_complainant": gettext_lazy("Complainant escalated (越级投诉)"),
    "milestone_missed": gettext_lazy("Deadline missed"),
    "escalated": gettext_lazy("Escalated"),
    "upgraded": gettext_lazy("Upgraded automatically"),
    "milestone_done": gettext_lazy("Clock marked done"),
    "information_added": gettext_lazy("The complainant added information"),
    "rated": gettext_lazy("The complainant rated the handling"),
    "files_attached": gettext_lazy("Files attached"),
    "clocks_rebased": gettext_lazy("Clocks re-based on changed time limits"),
}


def event_label(action: str) -> str:
    return str(EVENT_LABELS.get(action, action.replace("_", " ")))


def event_detail(event, departments: dict[int, str]) -> str:
    """A short line of what changed, from the event's stored after-state."""
    after = event.after or {}
    if event.action in ("dispatched", "handover_accepted", "classified") and after.get(
        "lead_department"
    ):
        if event.action == "classified":
            return _("tier %(tier)s") % {"tier": after.get("tier")}
        return departments.get(after["lead_department"], "")
    if event.action == "classified":
        return _("tier %(tier)s") % {"tier": after.get("tier")}
    if event.action in ("handed_over", "handover_overdue"):
        return departments.get(after.get("to_department"), "")
    if event.action == "called_back":
        return _("satisfied") if after.get("satisfied") else _("dissatisfied: re-opened")
    if event.action == "linked":
        return after.get("case", "")
    if event.action == "escalated_by_complainant":
        return _("%(level)s, %(points)s points") % {
            "level": after.get("level"),
            "points": after.get("points"),
        }
    if event.action in ("milestone_missed", "escalated", "milestone_done"):
        return after.get("milestone", "")
    if event.action == "compensation_recorded":
        return f"¥{after.get('amount')}"
    if event.action == "files_attached":
        return ", ".join(after.get("files", []))
    return ""


def _render_page(request, case: Case, *, bound=None, status: int = 200):
    roles = current_site_roles(request)
    allowed = available_actions(case=case, user=request.user, roles=roles)
    failed = bound[0] if bound else None
    # Read once for every form and the timeline: departments, staff, tiers, categories.
    choices = case_forms.PageChoices(site=request.tenant)
    actions = []
    for name, action in ACTIONS.items():
        if name not in allowed and name != failed:
            continue
        actions.append(
            {
                "name": name,
                "title": action.title,
                "form": bound[1] if name == failed else _form(request, name, case, choices=choices),
                "open": name == failed or (name == "reply" and "reply_template" in request.GET),
                "url": reverse(f"case-{name}", args=[case.pk]),
            }
        )
    departments = {d.pk: d.display_name for d in choices.departments}
    visible = may_see_complainant(user=request.user, case=case, roles=roles)
    events = case_timeline(case=case, user=request.user, visible=visible)
    for event in events:
        event.label = event_label(event.action)
        event.detail = event_detail(event, departments)
    pending = next((h for h in case.handovers.all() if h.accepted_at is None), None)
    context = {
        "case": case,
        "complainant": complainant_details(user=request.user, case=case, visible=visible),
        "may_see_complainant": visible,
        "milestones": sorted(case.milestones.all(), key=lambda m: m.due_at),
        "events": events,
        "actions": actions,
        "failed": failed,
        "pending_handover": pending,
        "attachments": list(case.attachments.all()) if visible else [],
        "links": [(link.to_case, link.get_kind_display()) for link in case.links_out.all()]
        + [(link.from_case, link.get_kind_display()) for link in case.links_in.all()],
        "reply_templates": case_forms.ReplyTemplateForm(request.GET or None),
        "has_reply_templates": ReplyTemplate.objects.filter(active=True).exists(),
        "pause_reason": case_forms.pause_reason_label(case.pause_reason) if case.paused_at else "",
        "time_zone": request.tenant.time_zone,
    }
    return render(request, "casework/case/detail.html", context, status=status)


@site_role_required()
def case_detail(request, case_id: int):
    with site_time(request):
        return _render_page(request, _case_or_404(case_id))


@require_POST
@site_role_required()
def case_action(request, case_id: int, action: str):
    if not current_site_roles(request).intersection(CASE_HANDLERS):
        raise PermissionDenied("Oversight roles read cases; they do not act on them.")
    with site_time(request):
        case = _case_or_404(case_id)
        form = _form(request, action, case, data=request.POST, files=request.FILES)
        if form.is_valid():
            try:
                message = ACTIONS[action].perform(form.cleaned_data, case, request.user)
            except services.CaseworkError as error:
                _put_errors(form, error)
            else:
                messages.success(request, message)
                return redirect("case-detail", case_id=case.pk)
        # Re-read: the refused action changed nothing, and the page must show just that.
        # HTMX swaps only successful responses: it gets the same page with a 200.
        status = 200 if request.headers.get("HX-Request") else 400
        return _render_page(request, _case_or_404(case_id), bound=(action, form), status=status)


def _sheet_steps(*, case: Case, user) -> list[tuple]:
    departments = {d.pk: d.display_name for d in Department.objects.all()}
    steps = []
    for event in case_timeline(case=case, user=user):
        detail = event_detail(event, departments)
        what = f"{event_label(event.action)} · {detail}" if detail else event_label(event.action)
        steps.append((event.at, what, str(event.actor or _("the system")), event.note))
    return steps


@site_role_required()
def case_sheet(request, case_id: int):
    """The printable case sheet (投诉处理表), complainant masked as on the page."""
    from casework.sheet import render_case_sheet

    with site_time(request):
        case = _case_or_404(case_id)
        pdf = render_case_sheet(
            case=case,
            site=request.tenant,
            complainant=complainant_details(user=request.user, case=case),
            steps=_sheet_steps(case=case, user=request.user),
        )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{case.reference}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns = [
    path("cases/<int:case_id>/", case_detail, name="case-detail"),
    path("cases/<int:case_id>/sheet.pdf", case_sheet, name="case-sheet"),
    *[
        path(f"cases/<int:case_id>/{name}/", case_action, {"action": name}, name=f"case-{name}")
        for name in ACTIONS
    ],
]
