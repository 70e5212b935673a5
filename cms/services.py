"""Operations on a site's public pages and the web intake. Run inside the site's schema."""

from django.db import transaction
from django.utils import timezone
from wagtail.models import Page
from wagtail.models import Site as WagtailSite

from casework.models import Milestone, MilestoneState
from casework.public import attach_files, grant_public_access
from casework.services import Complainant, register_case
from cms.models import ComplaintFormPage, HomePage, TrackingPage


@transaction.atomic
def provision_site_pages(*, site, hostname: str) -> HomePage:
    """Give a freshly migrated schema its public pages and bind Wagtail's Site to the domain:
    the channels page (home), the complaint form and the tracking page.

    Wagtail's own migrations leave a "Welcome" page and a Site for localhost in every schema;
    they are replaced, so each schema has exactly one Site, the one answering on `hostname`.
    """
    root = Page.get_first_root_node()
    for child in root.get_children():
        if not isinstance(child.specific, HomePage):
            child.delete()
    home = HomePage.objects.first()
    if home is None:
        home = root.add_child(
            instance=HomePage(title=site.name, title_en=site.name_en, slug="home")
        )
    if not ComplaintFormPage.objects.exists():
        home.add_child(
            instance=ComplaintFormPage(
                title="我要投诉", title_en="File a complaint", slug="complain"
            )
        )
    if not TrackingPage.objects.exists():
        home.add_child(
            instance=TrackingPage(
                title="投诉进度查询", title_en="Follow your complaint", slug="track"
            )
        )
    WagtailSite.objects.exclude(hostname=hostname).delete()
    WagtailSite.objects.update_or_create(
        hostname=hostname,
        port=80,
        defaults={"root_page": home, "is_default_site": True, "site_name": site.name},
    )
    return home


@transaction.atomic
def submit_web_complaint(*, data: dict, tracking_url=None, confirm_url=None, now=None) -> dict:
    """A complaint from the public form, committed with its files before anything else
    happens; returns what the receipt shows (the link and code only this once).

    `tracking_url(token)` and `confirm_url(token)` build absolute links on the site's domain;
    with them, a requested e-mail copy of the receipt waits for the address to be confirmed.
    """
    now = now or timezone.now()
    anonymous = bool(data.get("anonymous"))
    department = data.get("department")
    case = register_case(
        channel="web",
        account=data["account"],
        complainant=Complainant(
            relation=data["relation"],
            name=data.get("name", ""),
            phone=data.get("phone", ""),
            email=data.get("email", ""),
            anonymous=anonymous,
            consent_contact=bool(data.get("consent_contact")),
            consent_share=bool(data.get("consent_share")),
        ),
        occurred_at=data.get("occurred_at"),
        location=data.get("location", ""),
        subject=department.name if department else "",
        desired_outcome=data.get("desired_outcome", ""),
        now=now,
    )
    attach_files(case=case, uploads=data.get("attachments"), from_complainant=True, now=now)
    token, code = grant_public_access(case=case, now=now)
    next_clock = (
        Milestone.objects.filter(case=case, state=MilestoneState.OPEN)
        .select_related("rule")
        .order_by("due_at")
        .first()
    )
    if data.get("email_copy") and data.get("email") and not anonymous and confirm_url:
        from django.utils.translation import gettext as _

        from casework.public import request_receipt_copy

        lines = [_("Reference: %(reference)s") % {"reference": case.reference}]
        if tracking_url:
            lines += [
                _("Private link: %(url)s") % {"url": tracking_url(token)},
                _("Access code: %(code)s") % {"code": code},
            ]
        request_receipt_copy(
            case=case,
            address=data["email"],
            receipt_text="\n".join(lines),
            confirm_url=confirm_url,
            now=now,
        )
    return {
        "reference": case.reference,
        "token": token,
        "code": code,
        "next_step": next_clock.rule.name if next_clock else "",
        "next_step_en": next_clock.rule.name_en if next_clock else "",
        "next_due": next_clock.due_at.isoformat() if next_clock else "",
    }
