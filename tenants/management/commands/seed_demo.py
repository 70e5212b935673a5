"""Seed the demo firm: two regions, three sites (two hospitals, a care home), staff in every
role. Idempotent: a second run reuses what exists and prints the same logins."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_tenants.utils import tenant_context

from tenants.models import Firm, Region, Role, Site, SiteKind, User, site_url
from tenants.services import create_firm, create_region, create_site, grant_role

DEMO_PASSWORD = "carefront-demo"  # noqa: S105 - printed for the demo; refused in production

FIRM = {"slug": "huaxin", "name": "华信物业服务有限公司", "name_en": "Huaxin Property Services"}
REGIONS = [
    {"slug": "east", "name": "华东片区", "name_en": "East region"},
    {"slug": "south", "name": "华南片区", "name_en": "South region"},
]
SITES = [
    {
        "slug": "city-hospital",
        "name": "市第一人民医院",
        "name_en": "First People's Hospital",
        "kind": SiteKind.HOSPITAL,
        "region": "east",
    },
    {
        "slug": "harbour-hospital",
        "name": "港湾中心医院",
        "name_en": "Harbour Central Hospital",
        "kind": SiteKind.HOSPITAL,
        "region": "south",
    },
    {
        "slug": "sunrise-care",
        "name": "晨曦颐养院",
        "name_en": "Sunrise Care Home",
        "kind": SiteKind.CARE_HOME,
        "region": "east",
    },
]
SITE_STAFF = [
    (Role.SITE_ADMIN, "admin", "管理员", "站点"),
    (Role.SERVICE_CENTRE_MANAGER, "manager", "经理", "王"),
    (Role.PROJECT_MANAGER, "project", "项目", "李"),
    (Role.MANAGER_ASSISTANT, "assistant", "助理", "周"),
    (Role.DEPARTMENT_SUPERVISOR, "supervisor", "主管", "陈"),
    (Role.RECEPTIONIST, "reception", "客服", "张"),
]


def _assign_demo_staff(staff: dict[str, User]) -> None:
    """Who receives unattended complaints, who is on duty at night, who supervises what."""
    from casework.models import Department, SiteConfiguration

    SiteConfiguration.objects.filter(id=1).update(
        intake_owner=staff["reception"], after_hours_receiver=staff["manager"]
    )
    for department in Department.objects.filter(supervisor=None):
        department.supervisor = staff["supervisor"]
        department.save(update_fields=["supervisor"])


def _demo_public_page(site: Site, number: int) -> None:
    """Channels a real hospital would publish (made-up numbers in the 555 range)."""
    from cms.models import HomePage

    home = HomePage.objects.first()
    if home is None or home.channels:
        return
    channel = [
        (
            "hotline",
            "24小时投诉热线",
            "24-hour complaint hotline",
            f"021-5550 {number}000",
            "全天24小时",
            "24 hours",
        ),
        (
            "duty",
            "夜间总值班",
            "After-hours duty officer",
            f"021-5550 {number}119",
            "17:30–次日8:00",
            "17:30–08:00",
        ),
        (
            "window",
            "服务中心窗口",
            "Service-centre window",
            "门诊楼一楼大厅东侧",
            "周一至周日 8:00–17:30",
            "Daily 08:00–17:30",
        ),
        ("email", "投诉邮箱", "Complaints e-mail", f"service@{site.slug}.example", "", ""),
        (
            "supervisor",
            "区卫生健康委员会",
            "District health commission",
            "021-5551 2345",
            "工作日 9:00–17:00",
            "Working days 09:00–17:00",
        ),
    ]
    home.channels = [
        (
            "channel",
            {
                "kind": kind,
                "label": label,
                "label_en": label_en,
                "value": value,
                "hours": hours,
                "hours_en": hours_en,
            },
        )
        for kind, label, label_en, value, hours, hours_en in channel
    ]
    home.intro = "患者、家属和访客对后勤服务有任何意见，都可以通过以下方式联系我们。"
    home.intro_en = (
        "Patients, families and visitors can reach us about any of the hospital's "
        "support services in the ways below."
    )
    home.save_revision().publish()


class Command(BaseCommand):
    help = "Create (or reuse) the demo firm, regions, sites and staff, and print the logins."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("The demo is not seeded in production.")
        firm = Firm.objects.filter(slug=FIRM["slug"]).first() or create_firm(**FIRM)
        regions = {}
        for spec in REGIONS:
            regions[spec["slug"]] = Region.objects.filter(
                firm=firm, slug=spec["slug"]
            ).first() or create_region(firm=firm, **spec)

        logins: list[tuple[str, str]] = []

        def person(email: str, first: str, last: str, **extra) -> User:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email, DEMO_PASSWORD, first_name=first, last_name=last, **extra
                )
            return user

        with transaction.atomic():
            admin = person("platform@carefront.demo", "平台", "管理员", is_staff=True)
            logins.append(("platform admin", admin.email))
            boss = person("firm@huaxin.demo", "总部", "赵")
            grant_role(user=boss, role=Role.FIRM_ADMIN, firm=firm)
            logins.append(("firm admin", boss.email))
            for slug, region in regions.items():
                manager = person(f"{slug}@huaxin.demo", "片区", "孙")
                grant_role(user=manager, role=Role.REGIONAL_MANAGER, region=region)
                logins.append((f"regional manager, {region.name_en}", manager.email))

        for spec in SITES:
            site = Site.objects.filter(slug=spec["slug"]).first()
            if site is None:
                self.stdout.write(f"Creating site {spec['slug']} (schema and pages)…")
                site = create_site(
                    firm=firm,
                    region=regions[spec["region"]],
                    slug=spec["slug"],
                    name=spec["name"],
                    name_en=spec["name_en"],
                    kind=spec["kind"],
                )
            with transaction.atomic():
                staff = {}
                for role, local, first, last in SITE_STAFF:
                    user = person(f"{local}@{spec['slug']}.demo", first, last)
                    grant_role(user=user, role=role, site=site)
                    staff[local] = user
                    logins.append((f"{Role(role).label}, {site.name_en}", user.email))
            with tenant_context(site):
                _assign_demo_staff(staff)
                _demo_public_page(site, SITES.index(spec) + 1)

        self.stdout.write("")
        self.stdout.write(f"Platform and firm console: {site_url(settings.PUBLIC_HOSTS[0])}")
        for site in Site.objects.filter(firm=firm).prefetch_related("domains"):
            self.stdout.write(f"{site.name_en}: {site.url}  (back office: {site.url}office/)")
        self.stdout.write("")
        self.stdout.write(f"Logins (password for all: {DEMO_PASSWORD}):")
        for label, email in logins:
            self.stdout.write(f"  {email:<36} {label}")
