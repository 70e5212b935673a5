"""A site's archive holds every case, timeline, file, setting and page, and imports into a
fresh site that then shows the same record."""

import io
import json
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context
from PIL import Image

from casework.models import Attachment, Case, Milestone, SiteConfiguration, Tier, TimelineEvent
from casework.public import attach_files
from casework.services import Complainant, register_case
from cms.models import HomePage
from tenants.export import export_site, import_site
from tenants.models import Deadline, Membership, Role, Site, SiteEvent
from tenants.services import create_site, grant_role


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def files(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def source(world, files):
    site = create_site(
        firm=world.firm, slug="old-hospital", name="老院区", name_en="Old Campus", kind="hospital"
    )
    receptionist = world.people["reception_a"]
    grant_role(user=receptionist, role=Role.RECEPTIONIST, site=site)
    with tenant_context(site):
        case = register_case(
            channel="phone",
            account="电梯门夹到了我母亲的手",
            complainant=Complainant(relation="family", name="王芳", phone="13800000000"),
            received_by=receptionist,
        )
        attach_files(
            case=case,
            uploads=[SimpleUploadedFile("lift.png", _png(), content_type="image/png")],
            by=receptionist,
        )
        home = HomePage.objects.get()
        home.intro = "服务中心在一楼"
        home.save_revision().publish()
    return site


def _record(site: Site) -> dict:
    with tenant_context(site):
        case = Case.objects.get()
        attachment = Attachment.objects.get()
        with attachment.file.open("rb") as handle:
            data = handle.read()
        return {
            "reference": case.reference,
            "complainant": (case.complainant_name, case.complainant_phone),
            "timeline": list(
                TimelineEvent.objects.order_by("pk").values_list("action", "at", "note")
            ),
            "milestones": list(Milestone.objects.order_by("pk").values_list("due_at", "state")),
            "tiers": list(Tier.objects.order_by("rank").values_list("code", "name")),
            "template": SiteConfiguration.objects.get().template,
            "file": (attachment.original_name, data),
            "intro": HomePage.objects.get().intro,
            "clocks": sorted(
                Deadline.objects.filter(site=site).values_list("kind", "object_id", "due_at")
            ),
        }


def test_an_exported_site_imports_into_a_fresh_site_with_the_same_record(world, source, client):
    archive = export_site(site=source, exported_by=world.people["firm_admin"])
    with zipfile.ZipFile(archive) as zipped:
        manifest = json.loads(zipped.read("manifest.json"))
        names = zipped.namelist()
    assert manifest["format"] == "carefront-site-export" and manifest["version"] == 1
    assert manifest["counts"]["casework.case"] == 1 and manifest["files"] == 1
    assert {"data/cases.json", "data/configuration.json", "data/pages.json"} <= set(names)
    assert SiteEvent.objects.filter(site=source, action="exported").exists()

    copy = import_site(
        archive=archive,
        firm=world.firm,
        slug="new-hospital",
        imported_by=world.people["firm_admin"],
    )
    assert _record(copy) == _record(source)
    assert Membership.objects.filter(
        site=copy, user=world.people["reception_a"], role=Role.RECEPTIONIST
    ).exists()
    page = client.get("/", HTTP_HOST="new-hospital.localhost").content.decode()
    assert "服务中心在一楼" in page and "老院区" in page
    assert client.get("/complain/", HTTP_HOST="new-hospital.localhost").status_code == 200


def test_a_file_that_is_not_an_archive_is_refused_and_leaves_nothing(world, files):
    sites = Site.objects.count()
    with pytest.raises(ValidationError) as error:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zipped:
            zipped.writestr("manifest.json", json.dumps({"format": "something-else"}))
        import_site(archive=buffer, firm=world.firm, slug="bad-import")
    assert "archive" in error.value.message_dict
    assert Site.objects.count() == sites
