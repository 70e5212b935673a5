"""Firms, regions, sites, domains, people and their roles: the public schema."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin


def _localised(zh: str, en: str) -> str:
    """The English name when the reader reads English and one exists, else the Chinese."""
    return en if en and (get_language() or "").startswith("en") else zh


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields) -> "User":
        if not email:
            raise ValueError("A user needs an e-mail address")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)


class User(AbstractUser):
    """A person: one login for the whole platform, whatever roles they hold and where.

    `is_staff` marks a platform admin (the platform console and Django's admin); everything a
    person may do on a firm, region or site comes from their `Membership` rows.
    """

    username = None
    email = models.EmailField(_("e-mail address"), unique=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=8, choices=settings.LANGUAGES, default="zh-hans"
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def get_full_name(self) -> str:
        first, last = self.first_name.strip(), self.last_name.strip()
        # Chinese names are written family name first, with no space.
        if any("\u4e00" <= ch <= "\u9fff" for ch in first + last):
            return f"{last}{first}"
        return f"{first} {last}".strip()

    @property
    def is_platform_admin(self) -> bool:
        return self.is_active and self.is_staff


slug_validator = RegexValidator(
    r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$",
    _("Use 3 to 40 lower-case letters, digits and hyphens, starting with a letter."),
)


class Firm(models.Model):
    """A property-management firm: the subscriber that is billed (物业公司)."""

    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    slug = models.SlugField(_("slug"), max_length=40, unique=True, validators=[slug_validator])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("firm")
        verbose_name_plural = _("firms")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return _localised(self.name, self.name_en)


class Region(models.Model):
    """A regional office (片区 / 区域办公室) that oversees several of a firm's sites."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="regions")
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    slug = models.SlugField(_("slug"), max_length=40, validators=[slug_validator])

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["firm", "name"]
        constraints = [
            models.UniqueConstraint(fields=["firm", "slug"], name="region_slug_unique_in_firm")
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return _localised(self.name, self.name_en)


class SiteKind(models.TextChoices):
    HOSPITAL = "hospital", _("Hospital")
    CARE_HOME = "care_home", _("Care home")


def default_languages() -> list[str]:
    return ["zh-hans", "en"]


class Site(TenantMixin):
    """One client institution, a hospital or a care home: the tenant, with its own schema.

    Not to be confused with Wagtail's `Site` (the page tree's host binding inside the schema)
    or Django's sites framework (not used).
    """

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="sites")
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="sites", null=True, blank=True
    )
    slug = models.SlugField(_("slug"), max_length=40, unique=True, validators=[slug_validator])
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=SiteKind.choices)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    languages = ArrayField(
        models.CharField(max_length=8, choices=settings.LANGUAGES), default=default_languages
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Offboarding (tenants.services.request_site_deletion): the site is deleted by the
    # `delete_due_sites` sweep once `delete_after` has passed and the slug was typed back.
    deletion_requested_at = models.DateTimeField(null=True, blank=True)
    deletion_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    delete_after = models.DateTimeField(_("delete after"), null=True, blank=True)

    # Schemas are made by tenants.services.create_site (a clone of the template schema, see
    # tenants/cloning.py); a bare Site.save() migrates one from scratch, as django-tenants does.
    auto_create_schema = True
    auto_drop_schema = False

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return _localised(self.name, self.name_en)

    @property
    def primary_domain(self) -> str:
        # Iterates rather than filters so that a prefetch of `domains` is used.
        primary = [d.domain for d in self.domains.all() if d.is_primary]
        return primary[0] if primary else ""

    @property
    def url(self) -> str:
        return site_url(self.primary_domain)


def site_url(host: str, path: str = "/") -> str:
    port = f":{settings.SITE_URL_PORT}" if settings.SITE_URL_PORT else ""
    return f"{settings.SITE_URL_SCHEME}://{host}{port}{path}"


class Domain(DomainMixin):
    """A host name a site answers on (`<slug>.<BASE_DOMAIN>` by default)."""

    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")


class Role(models.TextChoices):
    FIRM_ADMIN = "firm_admin", _("Firm admin")
    REGIONAL_MANAGER = "regional_manager", _("Regional manager")
    SITE_ADMIN = "site_admin", _("Site admin")
    SERVICE_CENTRE_MANAGER = "service_centre_manager", _("Service-centre manager")
    PROJECT_MANAGER = "project_manager", _("Project manager")
    MANAGER_ASSISTANT = "manager_assistant", _("Manager assistant")
    DEPARTMENT_SUPERVISOR = "department_supervisor", _("Department supervisor")
    RECEPTIONIST = "receptionist", _("Receptionist / customer specialist")


FIRM_ROLES = frozenset({Role.FIRM_ADMIN})
REGION_ROLES = frozenset({Role.REGIONAL_MANAGER})
SITE_ROLES = frozenset(set(Role) - FIRM_ROLES - REGION_ROLES)


class Membership(models.Model):
    """A role a person holds on one firm, one region or one site (exactly one of the three)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    firm = models.ForeignKey(
        Firm, on_delete=models.CASCADE, null=True, blank=True, related_name="memberships"
    )
    region = models.ForeignKey(
        Region, on_delete=models.CASCADE, null=True, blank=True, related_name="memberships"
    )
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, null=True, blank=True, related_name="memberships"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(role__in=FIRM_ROLES, firm__isnull=False, region=None, site=None)
                    | Q(role__in=REGION_ROLES, region__isnull=False, firm=None, site=None)
                    | Q(role__in=SITE_ROLES, site__isnull=False, firm=None, region=None)
                ),
                name="membership_scope_fits_role",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "firm", "region", "site"],
                name="membership_unique",
                nulls_distinct=False,
            ),
        ]
        indexes = [models.Index(fields=["user", "site"]), models.Index(fields=["site", "role"])]

    def __str__(self) -> str:
        scope = self.site or self.region or self.firm
        return f"{self.user} · {self.get_role_display()} · {scope}"


class Deadline(models.Model):
    """The cross-site index of casework clocks, so one query finds what is due on every site.

    A row mirrors an open clock of a site's schema (a milestone, a pending hand-over, an
    automatic upgrade) and is written in the same transaction as that clock; the sweep claims
    due rows with SKIP LOCKED, acts in the site's schema, and moves `due_at` on to the next
    escalation level or deletes the row. See docs/decisions/0005-deadline-sweep.md.
    """

    class Kind(models.TextChoices):
        MILESTONE = "milestone", _("milestone")
        HANDOVER = "handover", _("hand-over awaiting acceptance")
        UPGRADE = "upgrade", _("automatic upgrade")
        OUTBOX = "outbox", _("notifications waiting to be sent")

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    object_id = models.BigIntegerField()
    due_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "kind", "object_id"], name="deadline_unique_clock"
            )
        ]
        indexes = [models.Index(fields=["due_at"], name="deadline_due")]

    def __str__(self) -> str:
        return f"{self.site_id}/{self.kind}/{self.object_id} due {self.due_at:%Y-%m-%d %H:%M}"


class Heartbeat(models.Model):
    """When each background process last proved it was alive (shown on the platform console)."""

    name = models.CharField(max_length=64, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


class SiteEditor(User):
    """A site admin as Wagtail's page editor sees them, for one request on their own site:
    Wagtail grants page rights only through its global groups or `is_superuser`, so the
    request carries this stand-in with `is_superuser` set. It can never be saved, so the flag
    never reaches the database (tenants/middleware.py, SiteEditorMiddleware)."""

    class Meta:
        proxy = True

    def save(self, *args, **kwargs):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("A site editor's account is changed on the platform, not here.")


class SiteEvent(models.Model):
    """The platform's audit line of what happened to a site as a whole: opened, exported,
    imported, deletion requested, cancelled, confirmed, deleted, people invited. Append-only;
    it outlives the site (the slug is kept when the row it points to is gone)."""

    class Action(models.TextChoices):
        CREATED = "created", _("site opened")
        INVITED = "invited", _("person invited")
        EXPORTED = "exported", _("site exported")
        IMPORTED = "imported", _("archive imported")
        DELETION_REQUESTED = "deletion_requested", _("deletion requested")
        DELETION_CANCELLED = "deletion_cancelled", _("deletion cancelled")
        DELETION_CONFIRMED = "deletion_confirmed", _("deletion confirmed")
        DELETED = "deleted", _("site deleted")

    site = models.ForeignKey(
        Site, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    site_slug = models.CharField(_("site"), max_length=40)
    firm = models.ForeignKey(
        Firm, on_delete=models.SET_NULL, null=True, blank=True, related_name="site_events"
    )
    action = models.CharField(_("action"), max_length=24, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField(_("at"))
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("site event")
        verbose_name_plural = _("site events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["site_slug", "at"], name="site_event_by_site")]

    def __str__(self) -> str:
        return f"{self.site_slug} {self.action} @ {self.at:%Y-%m-%d %H:%M}"


class SchemaBlueprint(models.Model):
    """The SQL that clones the template schema in one migration state (tenants/schemas.py),
    generated from the catalog once and shared by every process that opens sites."""

    fingerprint = models.CharField(max_length=32, primary_key=True)
    script = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.fingerprint} ({self.created_at:%Y-%m-%d %H:%M})"
