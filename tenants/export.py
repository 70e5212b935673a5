"""A site's whole record as one archive, and back into a fresh site (docs/site-export.md).

The archive is a zip: `manifest.json` (format, version, the site, counts per model), one JSON
file per family of models in Django's serialization format (`data/<family>.json`: people,
configuration, cases, pages, media, deadlines), and the files themselves (`files/private/…`
case attachments, `files/media/…` Wagtail images and documents). People are referred to by
e-mail address (natural keys), content types by app and model, so an archive imports into
any installation; every other row keeps its id, so references inside the site hold.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections import Counter
from datetime import datetime, time
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.core.exceptions import ValidationError
from django.core.management.color import no_style
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from tenants.models import Deadline, Firm, Membership, Region, Site, SiteEvent, User

FORMAT = "carefront-site-export"
VERSION = 1

# casework models that make up a site's configuration; the app's other models are its cases.
CONFIGURATION_MODELS = frozenset(
    {
        "siteconfiguration",
        "calendarday",
        "referencecounter",
        "department",
        "category",
        "tier",
        "milestonerule",
        "replytemplate",
        "configurationchange",
        "savedfilter",
    }
)
# Messages waiting to be sent belong to the installation that queued them, not the record.
SKIPPED_MODELS = frozenset({"casework.outboxmessage"})


class _ExactEncoder(DjangoJSONEncoder):
    """Times to the microsecond: Django's encoder keeps milliseconds only, and a clock moved
    by a fraction of a millisecond is no longer the clock that was exported."""

    def default(self, o):
        if isinstance(o, datetime | time):
            return o.isoformat()
        return super().default(o)


def _label(model) -> str:
    return model._meta.label_lower


def _families() -> dict[str, list]:
    """Family name -> querysets, in the order an import saves them."""
    from wagtail.documents import get_document_model
    from wagtail.images import get_image_model
    from wagtail.models import Page, PageLogEntry, Revision

    casework = [m for m in apps.get_app_config("casework").get_models() if not m._meta.proxy]
    configuration = [m for m in casework if m._meta.model_name in CONFIGURATION_MODELS]
    cases = [
        m
        for m in casework
        if m._meta.model_name not in CONFIGURATION_MODELS and _label(m) not in SKIPPED_MODELS
    ]
    page_models = [m for m in apps.get_app_config("cms").get_models() if issubclass(m, Page)]
    other_cms = [
        m
        for m in apps.get_app_config("cms").get_models()
        if not issubclass(m, Page) and not m._meta.proxy
    ]
    return {
        "configuration": [m.objects.order_by("pk") for m in configuration],
        "cases": [m.objects.order_by("pk") for m in cases],
        "pages": [
            Page.objects.filter(depth__gt=1).order_by("path"),
            *[m.objects.order_by("pk") for m in page_models],
            *[m.objects.order_by("pk") for m in other_cms],
            Revision.objects.order_by("pk"),
            PageLogEntry.objects.order_by("pk"),
        ],
        "media": [
            get_image_model().objects.order_by("pk"),
            get_document_model().objects.order_by("pk"),
        ],
    }


def _file_fields():
    """(model, field name, archive folder) of every stored file of a site."""
    from wagtail.documents import get_document_model
    from wagtail.images import get_image_model

    from casework.models import Attachment

    return [
        (Attachment, "file", "private"),
        (get_image_model(), "file", "media"),
        (get_document_model(), "file", "media"),
    ]


def export_site(*, site: Site, exported_by: User | None = None, out: Path | None = None) -> Path:
    """Write `site`'s archive to `out` (default VAR_DIR/exports/<slug>-<time>.zip) from one
    consistent snapshot of its schema, and record who exported it."""
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    out = Path(out or Path(settings.VAR_DIR) / "exports" / f"{site.slug}-{stamp}.zip")
    out.parent.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    people: set[str] = set()
    files = 0
    with tenant_context(site):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # the search path, set before the snapshot begins
        outermost = not connection.in_atomic_block
        with transaction.atomic(), zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            if outermost:  # one snapshot for every table (inside a caller's, theirs)
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            for family, querysets in _families().items():
                objects = []
                for queryset in querysets:
                    rows = list(queryset)
                    counts[_label(queryset.model)] += len(rows)
                    objects += rows
                    people |= _people_in(rows)
                archive.writestr(
                    f"data/{family}.json",
                    serializers.serialize(
                        "json", objects, use_natural_foreign_keys=True, indent=1, cls=_ExactEncoder
                    ),
                )
            for model, field, folder in _file_fields():
                for row in model.objects.all():
                    stored = getattr(row, field)
                    if stored and stored.storage.exists(stored.name):
                        with stored.storage.open(stored.name, "rb") as handle:
                            archive.writestr(f"files/{folder}/{stored.name}", handle.read())
                        files += 1
            deadlines = [
                {"kind": d.kind, "object_id": d.object_id, "due_at": d.due_at.isoformat()}
                for d in Deadline.objects.filter(site=site)
            ]
            archive.writestr("data/deadlines.json", json.dumps(deadlines, indent=1))
            staff = list(Membership.objects.filter(site=site).select_related("user"))
            people |= {m.user.email for m in staff}
            users = User.objects.filter(email__in=people).order_by("email")
            archive.writestr(
                "data/people.json",
                json.dumps(
                    {
                        "users": [
                            {
                                "email": u.email,
                                "first_name": u.first_name,
                                "last_name": u.last_name,
                                "phone": u.phone,
                                "preferred_language": u.preferred_language,
                            }
                            for u in users
                        ],
                        "roles": [{"email": m.user.email, "role": m.role} for m in staff],
                    },
                    ensure_ascii=False,
                    indent=1,
                ),
            )
            counts["deadlines"] = len(deadlines)
            counts["people"] = len(people)
            archive.writestr(
                "manifest.json",
                json.dumps(
                    {
                        "format": FORMAT,
                        "version": VERSION,
                        "exported_at": timezone.now().isoformat(),
                        "site": {
                            "slug": site.slug,
                            "name": site.name,
                            "name_en": site.name_en,
                            "kind": site.kind,
                            "time_zone": site.time_zone,
                            "languages": list(site.languages),
                            "firm": site.firm.slug,
                            "region": site.region.slug if site.region else None,
                            "domains": [d.domain for d in site.domains.all()],
                        },
                        "counts": dict(sorted(counts.items())),
                        "files": files,
                    },
                    ensure_ascii=False,
                    indent=1,
                ),
            )
    from tenants.services import record_site_event

    record_site_event(
        site=site,
        action=SiteEvent.Action.EXPORTED,
        actor=exported_by,
        details={"archive": out.name, "files": files},
    )
    return out


def _people_in(rows: list) -> set[str]:
    """E-mail addresses of the users the rows point at (foreign keys and many-to-many)."""
    emails: set[str] = set()
    ids: set[int] = set()
    for row in rows:
        for field in row._meta.concrete_fields:
            if field.is_relation and field.related_model is User:
                value = getattr(row, field.attname)
                if value:
                    ids.add(value)
        for field in row._meta.many_to_many:
            if field.related_model is User:
                ids |= set(getattr(row, field.name).values_list("pk", flat=True))
    if ids:
        emails |= set(User.objects.filter(pk__in=ids).values_list("email", flat=True))
    return emails


def read_manifest(archive: zipfile.ZipFile) -> dict:
    try:
        manifest = json.loads(archive.read("manifest.json"))
    except (KeyError, ValueError) as error:
        raise ValidationError({"archive": _("This is not a Carefront site archive.")}) from error
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValidationError({"archive": _("This archive's format is not supported.")})
    return manifest


def import_site(
    *,
    archive: Path | io.BytesIO,
    firm: Firm,
    slug: str,
    region: Region | None = None,
    domain: str | None = None,
    imported_by: User | None = None,
) -> Site:
    """Open a fresh site `slug` holding everything `archive` holds: cases, timelines, files,
    configuration, pages, roles, open clocks. One transaction: a bad archive leaves nothing
    (and the files written so far are removed)."""
    from tenants.services import create_site, grant_role, record_site_event

    with zipfile.ZipFile(archive) as zipped:
        manifest = read_manifest(zipped)
        source = manifest["site"]
        written: list[Path] = []
        try:
            with transaction.atomic():
                site = create_site(
                    firm=firm,
                    region=region,
                    slug=slug,
                    name=source["name"],
                    name_en=source.get("name_en", ""),
                    kind=source["kind"],
                    time_zone=source["time_zone"],
                    languages=source["languages"],
                    domain=domain,
                    with_template=False,
                    created_by=imported_by,
                )
                people = json.loads(zipped.read("data/people.json"))
                for person in people["users"]:
                    if not User.objects.filter(email__iexact=person["email"]).exists():
                        User.objects.create_user(
                            person["email"],
                            None,
                            first_name=person["first_name"],
                            last_name=person["last_name"],
                            phone=person["phone"],
                            preferred_language=person["preferred_language"],
                        )
                for grant in people["roles"]:
                    grant_role(
                        user=User.objects.get(email__iexact=grant["email"]),
                        role=grant["role"],
                        site=site,
                        granted_by=imported_by,
                    )
                with tenant_context(site):
                    _load_rows(zipped, site)
                    written = _write_files(zipped)
                deadlines = json.loads(zipped.read("data/deadlines.json"))
                Deadline.objects.bulk_create(
                    Deadline(
                        site=site,
                        kind=d["kind"],
                        object_id=d["object_id"],
                        due_at=datetime.fromisoformat(d["due_at"]),
                    )
                    for d in deadlines
                )
                record_site_event(
                    site=site,
                    action=SiteEvent.Action.IMPORTED,
                    actor=imported_by,
                    details={"from": source["slug"], "exported_at": manifest["exported_at"]},
                )
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        finally:
            connection.set_schema_to_public()
    return site


def _load_rows(zipped: zipfile.ZipFile, site: Site) -> None:
    from wagtail.models import Page
    from wagtail.models import Site as WagtailSite
    from wagtail.search import index

    # The fresh site's own pages make way for the archive's (the root stays).
    WagtailSite.objects.all().delete()
    for page in Page.objects.filter(depth=2):
        page.delete()
    models = set()
    for family in ("configuration", "cases", "pages", "media"):
        for item in serializers.deserialize(
            "json", zipped.read(f"data/{family}.json"), handle_forward_references=True
        ):
            item.save()
            models.add(type(item.object))
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), list(models)):
            cursor.execute(statement)
    root = Page.get_first_root_node()
    Page.objects.filter(pk=root.pk).update(numchild=Page.objects.filter(depth=2).count())
    home = Page.objects.filter(depth=2).order_by("path").first()
    if home is not None:
        WagtailSite.objects.create(
            hostname=site.primary_domain,
            port=80,
            root_page=home,
            is_default_site=True,
            site_name=site.name,
        )
    for page in Page.objects.filter(depth__gt=1).specific():
        index.insert_or_update_object(page)


def _write_files(zipped: zipfile.ZipFile) -> list[Path]:
    """The archive's files into the current site's storages; returns what was written."""
    from casework.models import Attachment

    storages = {"private": Attachment._meta.get_field("file").storage}
    from django.core.files.storage import default_storage

    storages["media"] = default_storage
    written = []
    for name in zipped.namelist():
        if not name.startswith("files/") or name.endswith("/"):
            continue
        _files, folder, stored = name.split("/", 2)
        if folder not in storages or ".." in Path(stored).parts:
            continue
        storage = storages[folder]
        target = Path(storage.path(stored))
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipped.open(name) as source, open(target, "wb") as handle:
            shutil.copyfileobj(source, handle)
        written.append(target)
    return written
