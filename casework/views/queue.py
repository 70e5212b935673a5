"""The queue (tabs, filters, search, saved filters), the new-case screen for the
receptionist, and the notifications inbox. Thin: the reads are `casework.selectors`, the
writes `casework.services`; times are shown in the site's time zone."""

from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from casework import selectors, services
from casework.forms.queue import (
    NewCaseForm,
    QueueFilterForm,
    SavedFilterForm,
    format_cursor,
    parse_cursor,
)
from casework.models import MilestoneRule
from tenants.permissions import site_role_required

# 25 rows fill a tablet's screen; each page costs the same at any depth (keyset).
PAGE_SIZE = 25
MAX_PAGE_SIZE = 200
# A clock turns amber once less than this share of its time is left (and red once it is out).
AMBER_SHARE = 0.25
TAB_LABELS = {
    "all": gettext_lazy("All being handled"),
    "mine": gettext_lazy("My cases"),
    "department": gettext_lazy("My department's"),
    "unassigned": gettext_lazy("Not dispatched"),
    "overdue": gettext_lazy("Overdue"),
    "due_today": gettext_lazy("Due today"),
}
# The query-string keys that make a filter (a saved filter keeps these, never a page cursor).
FILTER_KEYS = ("tab", "q", "tier", "channel", "category", "department", "status")


def _site_zone(request) -> ZoneInfo:
    return ZoneInfo(request.tenant.time_zone)


def case_url(case) -> str:
    """The case page once it exists (casework/views/case.py); the queue's search until then."""
    try:
        return reverse("case-detail", args=[case.pk])
    except NoReverseMatch:
        return reverse("queue") + "?" + urlencode({"q": case.reference, "status": "any"})


def _span(seconds: float) -> str:
    minutes = max(int(seconds // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("%(d)s d %(h)s h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)s h %(m)s min") % {"h": hours, "m": minutes}
    return _("%(m)s min") % {"m": minutes}


def countdown(*, due_at: datetime | None, since: datetime, now: datetime) -> dict | None:
    """How a running clock reads in the queue: 'ok', 'amber' or 'red', and the time left."""
    if due_at is None:
        return None
    left = (due_at - now).total_seconds()
    amber_at = due_at - (due_at - since) * AMBER_SHARE
    if left < 0:
        state, text = "red", _("overdue by %(span)s") % {"span": _span(-left)}
    else:
        state = "amber" if now >= amber_at else "ok"
        text = _("%(span)s left") % {"span": _span(left)}
    return {
        "state": state,
        "text": text,
        "due": due_at.isoformat(),
        "amber": amber_at.isoformat(),
        "due_at": due_at,
    }


def _filter_query(querydict) -> str:
    kept = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        value = querydict.get(key, "").strip()
        if value and not (key == "tab" and value == "all"):
            kept[key] = value
    return kept.urlencode()


def _filter_selects(form) -> list[dict]:
    """The filter form's selects as plain data: Django's widget templates render each option
    through a template of its own, a third of the queue's rendering time at ~60 options."""
    selects = []
    for name in ("tier", "channel", "category", "department", "status"):
        field = form[name]
        current = str(field.value() or "")
        selects.append(
            {
                "name": name,
                "id": field.auto_id,
                "label": field.label,
                "options": [
                    (str(value), str(label), str(value) == current)
                    for value, label in field.field.choices
                ],
            }
        )
    return selects


def _page_size(request) -> int:
    try:
        size = int(request.GET.get("size", PAGE_SIZE))
    except ValueError:
        return PAGE_SIZE
    return min(max(size, 1), MAX_PAGE_SIZE)


@site_role_required()
def queue(request):
    """The cases of this site, by tab, filters and search, newest first, with each case's
    next clock. Paged by keyset; the counts on the tabs are capped (selectors.COUNT_CAP)."""
    return render_queue(request)


def render_queue(request, *, template: str = "casework/queue/queue.html", extra=None):
    """The queue page (or, for an HTMX request, its tabs and rows only) in `template`."""
    now = timezone.now()
    form = QueueFilterForm(request.GET or None)
    filters = form.filters() if request.GET else QueueFilterForm().filters()
    department_ids = selectors.user_department_ids(user=request.user)
    cases = selectors.case_queue(
        user=request.user, filters=filters, now=now, department_ids=department_ids
    )
    rows, next_cursor = selectors.queue_page(
        cases, after=parse_cursor(request.GET.get("after", "")), size=_page_size(request)
    )
    rules = MilestoneRule.objects.in_bulk({row.next_rule_id for row in rows if row.next_rule_id})
    zone = _site_zone(request)
    for row in rows:
        # Formatted here, in the site's zone: the |date filter costs more than the rest of a
        # row's rendering.
        registered = row.registered_at.astimezone(zone)
        row.registered_iso = registered.isoformat()
        row.registered_text = f"{registered:%m-%d %H:%M}"
        row.next_rule = rules.get(row.next_rule_id)
        row.countdown = (
            None
            if row.paused_at
            else countdown(due_at=row.next_due_at, since=row.registered_at, now=now)
        )
        if row.countdown:
            row.countdown["due_text"] = f"{row.next_due_at.astimezone(zone):%Y-%m-%d %H:%M}"
        row.url = case_url(row)
    counts = selectors.queue_counts(
        user=request.user, filters=filters, now=now, department_ids=department_ids
    )
    query = _filter_query(request.GET)
    base = QueryDict(query, mutable=True)
    tabs = []
    for tab in selectors.QUEUE_TABS:
        base["tab"] = tab
        tabs.append(
            {
                "key": tab,
                "label": TAB_LABELS[tab],
                "count": counts[tab],
                "capped": counts[tab] > selectors.COUNT_CAP,
                "query": base.urlencode(),
                "current": tab == filters.tab,
            }
        )
    next_query = ""
    if next_cursor:
        following = QueryDict(query, mutable=True)
        following["after"] = format_cursor(next_cursor)
        if "size" in request.GET:
            following["size"] = str(_page_size(request))
        next_query = following.urlencode()
    context = {
        "selects": _filter_selects(form if request.GET else QueueFilterForm()),
        "filters": filters,
        "rows": rows,
        "tabs": tabs,
        "count_cap": selectors.COUNT_CAP,
        "query": query,
        "next_query": next_query,
        "paged": "after" in request.GET,
        "saved_filters": selectors.saved_filters(user=request.user),
        **(extra or {}),
    }
    if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        template = "casework/queue/_results.html"
    with timezone.override(_site_zone(request)):
        return render(request, template, context)


@site_role_required()
@require_POST
def saved_filter_create(request):
    form = SavedFilterForm(request.POST)
    query = _filter_query(QueryDict(request.POST.get("query", "")))
    if form.is_valid():
        try:
            services.save_queue_filter(
                owner=request.user, name=form.cleaned_data["name"], query=query
            )
        except services.CaseworkError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Filter “%(name)s” saved.") % form.cleaned_data)
    else:
        messages.error(request, _("Give the filter a name."))
    return HttpResponseRedirect(reverse("queue") + ("?" + query if query else ""))


@site_role_required()
def saved_filter_open(request, filter_id: int):
    saved = selectors.saved_filters(user=request.user).filter(pk=filter_id).first()
    if saved is None:
        raise Http404
    return HttpResponseRedirect(reverse("queue") + ("?" + saved.query if saved.query else ""))


@site_role_required()
@require_POST
def saved_filter_delete(request, filter_id: int):
    if not services.delete_queue_filter(owner=request.user, filter_id=filter_id):
        raise Http404
    messages.success(request, _("Filter deleted."))
    return redirect("queue")


def _apply_service_errors(form, error: services.CaseworkError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            for item in errors:
                form.add_error(field if field in form.fields else None, item.messages[0])
    else:
        for message in error.messages:
            form.add_error(None, message)


def _as_complainant(data) -> services.Complainant:
    return services.Complainant(
        relation=data["relation"],
        name=data.get("name", ""),
        phone=data.get("phone", ""),
        email=data.get("email", ""),
        anonymous=bool(data.get("anonymous")),
        consent_contact=bool(data.get("consent_contact")),
    )


@site_role_required()
def case_new(request):
    """The receptionist's one screen: a complaint by phone, at the window, by letter, e-mail,
    opinion book or referral, registered with the receptionist as its owner (首问责任制), or
    recorded as resolved at contact with one button."""
    zone = _site_zone(request)
    with timezone.override(zone):
        form = NewCaseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            resolved = request.POST.get("action") == "resolved"
            try:
                if resolved:
                    case = services.record_resolved_at_contact(
                        channel=data["channel"],
                        account=data["account"],
                        complainant=_as_complainant(data),
                        received_by=request.user,
                        resolution=data["resolution"],
                        content=data["content"],
                    )
                else:
                    case = services.register_case(
                        channel=data["channel"],
                        account=data["account"],
                        complainant=_as_complainant(data),
                        received_by=request.user,
                        tier=data["tier"],
                        content=data["content"],
                        lead_department=data["lead_department"],
                        occurred_at=data["occurred_at"],
                        location=data["location"],
                        subject=data["subject"],
                        desired_outcome=data["desired_outcome"],
                    )
            except services.CaseworkError as error:
                _apply_service_errors(form, error)
            else:
                if resolved:
                    messages.success(
                        request,
                        _("%(reference)s recorded as resolved at contact.")
                        % {"reference": case.reference},
                    )
                    return redirect("case-new")
                messages.success(
                    request, _("Case %(reference)s registered.") % {"reference": case.reference}
                )
                return HttpResponseRedirect(case_url(case))
        status = 400 if request.method == "POST" else 200
        return render(request, "casework/queue/case_new.html", {"form": form}, status=status)


@site_role_required()
def notifications(request):
    """The user's own notices on this site, newest first."""
    before = parse_cursor(request.GET.get("before", ""))
    rows, next_cursor = selectors.inbox(user=request.user, before=before)
    for row in rows:
        row.url = case_url(row.case) if row.case_id else ""
    with timezone.override(_site_zone(request)):
        return render(
            request,
            "casework/queue/notifications.html",
            {"rows": rows, "next_cursor": format_cursor(next_cursor)},
        )


@site_role_required()
@require_POST
def notification_open(request, notification_id: int):
    """Mark one notice read and go to its case (or back to the inbox)."""
    notice = selectors.user_notification(user=request.user, notification_id=notification_id)
    if notice is None:
        raise Http404
    services.mark_notifications_read(user=request.user, ids=[notice.pk])
    if request.headers.get("HX-Request"):
        if notice.case_id:
            return HttpResponse(headers={"HX-Redirect": case_url(notice.case)})
        notice.read_at = timezone.now()
        with timezone.override(_site_zone(request)):
            return render(request, "casework/queue/_notification.html", {"row": notice})
    return HttpResponseRedirect(
        case_url(notice.case) if notice.case_id else reverse("notifications")
    )


@site_role_required()
@require_POST
def notifications_read_all(request):
    count = services.mark_notifications_read(user=request.user)
    messages.success(request, _("%(count)s notices marked read.") % {"count": count})
    return redirect("notifications")
