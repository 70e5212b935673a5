"""Operations on a site's public pages and the web intake. Run inside the site's schema."""

from django.db import connection, transaction
from django.utils import timezone
from wagtail.models import Page
from wagtail.models import Site as WagtailSite

from casework.public import attach_files, grant_public_access, next_public_step
from casework.services import Complainant, register_case
from cms.models import ComplaintFormPage, HomePage, TrackingPage

# The three public pages of a new site: model, slug, Chinese and English titles.
_SITE_PAGES = (
    ("complain", "我要投诉", "File a complaint"),
    ("track", "投诉进度查询", "Follow your complaint"),
)


# No savepoint inside a caller's transaction (create_site): a failure undoes it all anyway.
@transaction.atomic(savepoint=False)
def provision_site_pages(*, site, hostname: str) -> HomePage:
    """Give a freshly migrated (or cloned) schema its public pages and bind Wagtail's Site to
    the domain: the channels page (home), the complaint form and the tracking page.

    Wagtail's own migrations leave a "Welcome" page and a Site for localhost in every schema;
    they are replaced, so each schema has exactly one Site, the one answering on `hostname`.
    A schema as migrations leave it takes the quick way (`_provision_fresh`, about fifteen
    statements instead of 135 through treebeard's `add_child`); anything else (pages already
    there, a partial earlier attempt) goes through Wagtail's API and is completed.
    """
    fresh = _provision_fresh(site=site, hostname=hostname)
    if fresh is not None:
        return fresh
    root = Page.get_first_root_node()
    for child in root.get_children():
        if not isinstance(child.specific, HomePage):
            child.delete()
    home = HomePage.objects.first()
    if home is None:
        home = root.add_child(
            instance=HomePage(title=site.name, title_en=site.name_en, slug="home")
        )
    models = {"complain": ComplaintFormPage, "track": TrackingPage}
    for slug, title, title_en in _SITE_PAGES:
        if not models[slug].objects.exists():
            home.add_child(instance=models[slug](title=title, title_en=title_en, slug=slug))
    WagtailSite.objects.exclude(hostname=hostname).delete()
    WagtailSite.objects.update_or_create(
        hostname=hostname,
        port=80,
        defaults={"root_page": home, "is_default_site": True, "site_name": site.name},
    )
    return home


def _provision_fresh(*, site, hostname: str) -> HomePage | None:
    """The pages of a schema exactly as migrations leave it (the root, Wagtail's welcome page
    and nothing else), written directly: the welcome page and its Site deleted, the three
    page rows in one INSERT and their own rows in one each, the search index, the creation
    log and the Site. The same rows `add_child` writes; None if the schema is not fresh."""
    from django.contrib.contenttypes.models import ContentType
    from wagtail.models import PageLogEntry
    from wagtail.search import index

    pages = list(Page.objects.filter(depth__lte=2).values_list("id", "depth", "content_type_id"))
    plain_page = ContentType.objects.get_for_model(Page, for_concrete_model=False).pk
    roots = [row for row in pages if row[1] == 1]
    children = [row for row in pages if row[1] == 2]
    if len(roots) != 1 or len(children) != 1 or children[0][2] != plain_page:
        return None
    root = Page.objects.get(pk=roots[0][0])
    welcome = children[0][0]
    if root.numchild != 1 or Page.objects.filter(depth__gt=2).exists():
        return None

    with connection.cursor() as cursor:
        # Deferred foreign keys check at commit that nothing else pointed at these rows.
        cursor.execute(
            "DELETE FROM wagtailcore_site WHERE root_page_id = %s; "
            "DELETE FROM wagtailcore_page WHERE id = %s",
            [welcome, welcome],
        )
    types = ContentType.objects.get_for_models(HomePage, ComplaintFormPage, TrackingPage)
    home = HomePage(title=site.name, title_en=site.name_en, slug="home")
    specifics = [
        home,
        ComplaintFormPage(title=_SITE_PAGES[0][1], title_en=_SITE_PAGES[0][2], slug="complain"),
        TrackingPage(title=_SITE_PAGES[1][1], title_en=_SITE_PAGES[1][2], slug="track"),
    ]
    home_path = root.path + "0001"
    placement = [
        (home_path, 2, 2, "/home/"),
        (home_path + "0001", 3, 0, "/home/complain/"),
        (home_path + "0002", 3, 0, "/home/track/"),
    ]
    for page, (path, depth, numchild, url_path) in zip(specifics, placement, strict=True):
        page.path, page.depth, page.numchild, page.url_path = path, depth, numchild, url_path
        page.draft_title = page.title
        page.locale_id = root.locale_id
        page.content_type = types[type(page)]
    bases = Page.objects.bulk_create(
        [
            Page(**{f.attname: getattr(page, f.attname) for f in Page._meta.concrete_fields})
            for page in specifics
        ]
    )
    for page, base in zip(specifics, bases, strict=True):
        page.id = page.page_ptr_id = base.pk
        page._state.adding = False
        model = type(page)
        # One INSERT of the page type's own columns (what Model.save does for the child
        # table of a multi-table model; bulk_create refuses such models).
        model._base_manager._insert(
            [page], fields=model._meta.local_concrete_fields, using=connection.alias
        )
        index.insert_or_update_object(page)
    PageLogEntry.objects.bulk_create(
        [
            PageLogEntry(
                content_type_id=page.content_type_id,
                label=page.title[:255],
                action="wagtail.create",
                timestamp=timezone.now(),
                page_id=page.pk,
                content_changed=True,
                data={},
            )
            for page in specifics
        ]
    )
    WagtailSite.objects.create(
        hostname=hostname, port=80, root_page=home, is_default_site=True, site_name=site.name
    )
    return home


@transaction.atomic
def submit_web_complaint(*, data: dict, tracking_url=None, confirm_url=None, now=None) -> dict:
    """A complaint from the public form, committed with its files before anything else
    happens; returns what the receipt shows (the link and code only this once, and the next
    step the complainant will notice, by its kind: see casework.public.public_step_name).

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
    token, code = grant_public_access(case=case, now=now, new=True)
    step = next_public_step(case=case)
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
        "next_step": step.rule.met_by if step else "",
        "next_due": step.due_at.isoformat() if step else "",
    }
