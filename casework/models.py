"""The case domain of one site (its own schema): configuration and cases.

Configuration: departments, tiers with their milestone rules, categories, the calendar and the
reference pattern. Cases: the case, its milestones (the clocks, stored with their due times),
its append-only timeline, and the outbox through which notifications leave.
"""

from datetime import time

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from casework.fields import EncryptedTextField
from casework.storage import private_storage
from tenants.models import Role


class Named(models.Model):
    """A Chinese name, an optional English one, and the one to show to the current reader."""

    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        english = (get_language() or "").startswith("en")
        return self.name_en if english and self.name_en else self.name


class Department(Named):
    """A service department (visiting, lift operation, escort, cleaning, …), as a tree.

    Retired, never deleted, so that old cases keep pointing at the department they had.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["position", "code"]


class Tier(Named):
    """A complaint tier (轻微 / 重要 / 重大 / 复杂性赔偿性) and the rules that come with it."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    rank = models.PositiveSmallIntegerField(_("severity rank"), default=0)
    description = models.TextField(_("meaning"), blank=True)
    handler_role = models.CharField(_("handled by"), max_length=32, choices=Role.choices)
    extension_approver_role = models.CharField(
        _("extensions approved by"), max_length=32, choices=Role.choices
    )
    close_approver_role = models.CharField(
        _("closing approved by"),
        max_length=32,
        choices=Role.choices,
        blank=True,
        help_text=_("Empty: the handler may close without approval."),
    )
    upgrade_after_days = models.PositiveSmallIntegerField(
        _("upgrade a valid complaint unresolved after (days)"), null=True, blank=True
    )
    upgrade_to = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    pause_reasons = ArrayField(
        models.CharField(max_length=40),
        default=list,
        blank=True,
        help_text=_("Reasons for which this tier's clocks may be paused."),
    )

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]


class DurationUnit(models.TextChoices):
    MINUTES = "minutes", _("minutes")
    HOURS = "hours", _("hours")
    WORKING_DAYS = "working_days", _("working days")
    CALENDAR_DAYS = "calendar_days", _("calendar days")


class MetBy(models.TextChoices):
    """The action that stops a clock."""

    REGISTRATION = "register", _("registration (acknowledged on receipt)")
    REPORT = "report", _("report to the managers (sent by the system at once)")
    DISPATCH = "dispatch", _("dispatch to the responsible department")
    CONTACT = "contact", _("real contact with the complainant")
    ACCEPTANCE = "accept", _("acceptance decision told to the complainant")
    REPLY = "reply", _("reply to the complainant")
    CLOSE = "close", _("closing the case")
    MANUAL = "manual", _("marked done by staff (e.g. a report to an outside body)")


class MilestoneRule(Named):
    """One clock of a tier: acknowledge, dispatch, first contact, reply, resolve, or the site's
    own; its duration, and who is told, level by level, when it runs out."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="milestone_rules")
    code = models.SlugField(_("code"), max_length=40)
    amount = models.PositiveIntegerField(_("duration"))
    unit = models.CharField(_("unit"), max_length=16, choices=DurationUnit.choices)
    met_by = models.CharField(_("met by"), max_length=12, choices=MetBy.choices)
    escalation_chain = ArrayField(
        models.CharField(max_length=32, choices=Role.choices),
        default=list,
        blank=True,
        help_text=_("Roles told when the clock runs out, one level per further miss."),
    )
    position = models.PositiveSmallIntegerField(default=0)
    # A clock cases have used stays in their history (their milestones point at it): it is
    # retired, not deleted, and starts on no new case.
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("milestone rule")
        verbose_name_plural = _("milestone rules")
        ordering = ["tier", "position"]
        constraints = [
            models.UniqueConstraint(fields=["tier", "code"], name="milestone_rule_code_per_tier")
        ]


class CategoryKind(models.TextChoices):
    NATURE = "nature", _("nature")
    CONTENT = "content", _("content")


class Category(Named):
    """Nature (valid complaint 有效投诉, or communication: help-seeking 求助型, inquiry 咨询型,
    venting 发泄型) or content (equipment, attitude, quality, sudden incident, and the site's
    sub-categories). `code` is what a reference number carries (…-SVC-…)."""

    kind = models.CharField(_("kind"), max_length=16, choices=CategoryKind.choices)
    code = models.SlugField(_("code"), max_length=12)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    is_valid_complaint = models.BooleanField(
        _("a valid complaint"),
        default=False,
        help_text=_("For natures: valid complaints are always called back."),
    )
    requires_signoff = models.BooleanField(
        _("closed only when the complainant signs off (repairs)"), default=False
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["kind", "code"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "code"], name="category_code_per_kind")
        ]


def default_compensation_limits() -> dict[str, int]:
    return {
        Role.DEPARTMENT_SUPERVISOR: 500,
        Role.PROJECT_MANAGER: 5000,
        Role.SERVICE_CENTRE_MANAGER: 20000,
    }


def default_escalation_points() -> dict[str, int]:
    # Seed 001 第十条: to firm leaders 20, county level or media 30, city level and above 50,
    # each for the department supervisor and for the person responsible.
    return {"firm": 20, "county": 30, "city": 50}


class SiteConfiguration(models.Model):
    """The one row of settings of this site's casework (office hours, references, template)."""

    template = models.CharField(_("template applied"), max_length=40, blank=True)
    workday_start = models.TimeField(_("office opens"), default=time(8, 0))
    workday_end = models.TimeField(_("office closes"), default=time(17, 30))
    use_official_holidays = models.BooleanField(
        _("follow China's public holidays and make-up working days"), default=True
    )
    intake_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner of complaints that arrive without a person"),
        help_text=_("Web form, letters, suggestion box: who owns them in office hours."),
    )
    after_hours_receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("after-hours receiver (general duty officer)"),
    )
    reference_pattern = models.CharField(
        _("reference pattern"),
        max_length=60,
        default="{date}-{category}-{seq:03d}",
        help_text=_(
            "{date} is YYYYMMDD in the site's time zone, {category} the content "
            "category's code, {seq} the day's sequence number."
        ),
    )
    default_category_code = models.CharField(max_length=12, default="SVC")
    handover_accept_minutes = models.PositiveIntegerField(
        _("a hand-over must be accepted within (minutes)"), default=30
    )
    compensation_limits = models.JSONField(
        _("compensation each role may approve alone (yuan)"),
        default=default_compensation_limits,
    )
    escalation_points = models.JSONField(
        _("performance points deducted per complainant escalation level"),
        default=default_escalation_points,
    )

    class Meta:
        verbose_name = _("site configuration")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="site_configuration_single_row")
        ]

    def __str__(self) -> str:
        return str(_("site configuration"))


class CalendarDay(models.Model):
    """The site's own exceptions to the official calendar."""

    class Kind(models.TextChoices):
        CLOSED = "closed", _("office closed")
        WORKING = "working", _("working day")

    day = models.DateField(_("day"), unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} {self.get_kind_display()}"


class ReferenceCounter(models.Model):
    """Next sequence number of a day: incremented inside the transaction that registers the
    case, so references stay unique and gap-free under concurrent intake."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class Channel(models.TextChoices):
    WEB = "web", _("web form")
    PHONE = "phone", _("hotline phone")
    WALK_IN = "walk_in", _("walk-in at the service centre")
    LETTER = "letter", _("letter")
    EMAIL = "email", _("e-mail")
    OPINION_BOOK = "opinion_book", _("ward opinion book")
    SUGGESTION_BOX = "suggestion_box", _("suggestion box")
    REFERRAL = "referral", _("referral by hospital staff or leaders")


class Relation(models.TextChoices):
    PATIENT = "patient", _("patient")
    FAMILY = "family", _("family member")
    VISITOR = "visitor", _("visitor")
    STAFF = "staff", _("hospital staff")
    OTHER = "other", _("other")


class CaseStatus(models.TextChoices):
    RESOLVED_AT_CONTACT = "resolved_at_contact", _("resolved at contact")
    OPEN = "open", _("open")
    REPLIED = "replied", _("replied")
    CLOSED = "closed", _("closed")


class CaseOutcome(models.TextChoices):
    RESOLVED = "resolved", _("resolved")
    UNRESOLVABLE = "unresolvable", _("cannot be resolved (approved at the quarterly review)")
    LEGAL_ROUTE = "legal_route", _("mediation failed; complainant told of the legal route")


class Case(models.Model):
    """A complaint registered as a case (立项), from intake to close (销项).

    Owned at every moment by a person (首问责任制): the first responder until a hand-over is
    accepted. Contact details are encrypted and never shown to the people complained about.
    """

    reference = models.CharField(_("reference"), max_length=40, unique=True)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=24, choices=CaseStatus.choices, default=CaseStatus.OPEN
    )
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="cases")
    nature = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    content = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lead_department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="led_cases"
    )
    cooperating_departments = models.ManyToManyField(
        Department, blank=True, related_name="cooperating_cases"
    )
    first_responder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    anonymous = models.BooleanField(_("anonymous"), default=False)
    relation = models.CharField(_("relation"), max_length=12, choices=Relation.choices)
    complainant_name = EncryptedTextField(_("complainant's name"), blank=True)
    complainant_phone = EncryptedTextField(_("complainant's phone"), blank=True)
    complainant_email = EncryptedTextField(_("complainant's e-mail"), blank=True)
    # Keyed HMACs of the normalised name, phone and e-mail (casework.blind_index): staff find
    # a case by a complainant's whole number, address or name; the values stay encrypted.
    complainant_name_index = models.CharField(max_length=64, blank=True, editable=False)
    complainant_phone_index = models.CharField(max_length=64, blank=True, editable=False)
    complainant_email_index = models.CharField(max_length=64, blank=True, editable=False)

    occurred_at = models.DateTimeField(_("when it happened"), null=True, blank=True)
    location = models.CharField(_("where it happened"), max_length=200, blank=True)
    subject = models.CharField(
        _("department or person complained about"), max_length=200, blank=True
    )
    account = models.TextField(_("what happened"))
    desired_outcome = models.TextField(_("what the complainant wants"), blank=True)

    persons_complained_about = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        help_text=_("They never see the complainant's identity or contact details."),
    )

    registered_at = models.DateTimeField(_("registered at"))
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=24, choices=CaseOutcome.choices, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=40, blank=True)
    upgrade_due_at = models.DateTimeField(null=True, blank=True)
    reopened_count = models.PositiveSmallIntegerField(default=0)
    consent_contact = models.BooleanField(_("may be contacted"), default=True)
    consent_share = models.BooleanField(
        _("name may be shared with the people concerned"), default=False
    )
    satisfaction = models.PositiveSmallIntegerField(
        _("complainant's rating (1–5)"), null=True, blank=True
    )
    satisfaction_comment = models.TextField(_("complainant's comment"), blank=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-registered_at"]
        indexes = [
            models.Index(fields=["status", "registered_at"]),
            # The queue pages newest first by (registered_at, id) over cases still being
            # handled; its tabs narrow by owner or lead department (casework.selectors).
            models.Index(
                fields=["-registered_at", "-id"],
                name="case_active_recent",
                condition=Q(status__in=["open", "replied"]),
            ),
            models.Index(
                fields=["owner", "-registered_at", "-id"],
                name="case_active_owner",
                condition=Q(status__in=["open", "replied"]),
            ),
            models.Index(
                fields=["lead_department", "-registered_at", "-id"],
                name="case_active_department",
                condition=Q(status__in=["open", "replied"]),
            ),
            models.Index(fields=["-registered_at", "-id"], name="case_recent"),
            models.Index(
                fields=["complainant_phone_index"],
                name="case_phone_index",
                condition=~Q(complainant_phone_index=""),
            ),
            models.Index(
                fields=["complainant_email_index"],
                name="case_email_index",
                condition=~Q(complainant_email_index=""),
            ),
            models.Index(
                fields=["complainant_name_index"],
                name="case_name_index",
                condition=~Q(complainant_name_index=""),
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class MilestoneState(models.TextChoices):
    OPEN = "open", _("running")
    MET = "met", _("met")
    MISSED = "missed", _("missed")
    CANCELLED = "cancelled", _("no longer needed")


class Milestone(models.Model):
    """One clock of a case, its due time computed at registration in the site's calendar.

    The database is the only source of truth: the sweep reads `due_at` of open milestones
    (a partial index keeps that cheap however many cases are closed) and escalates each miss
    once per level, by compare-and-swap on `escalation_level`.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="milestones")
    rule = models.ForeignKey(MilestoneRule, on_delete=models.PROTECT, related_name="+")
    code = models.SlugField(max_length=40)
    due_at = models.DateTimeField(_("due at"))
    state = models.CharField(
        _("state"), max_length=12, choices=MilestoneState.choices, default=MilestoneState.OPEN
    )
    met_at = models.DateTimeField(null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(fields=["case", "code"], name="milestone_code_per_case")
        ]
        indexes = [
            models.Index(fields=["due_at"], name="milestone_open_due", condition=Q(state="open"))
        ]

    def __str__(self) -> str:
        return f"{self.case_id}/{self.code} due {self.due_at:%Y-%m-%d %H:%M}"


class TimelineEvent(models.Model):
    """An append-only line of a case's history: who did what, when, with before and after."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="timeline")
    at = models.DateTimeField(_("at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(_("action"), max_length=40)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    note = models.TextField(_("note"), blank=True)
    public = models.BooleanField(
        _("shown to the complainant"),
        default=False,
        help_text=_("Public events never carry staff names or internal notes."),
    )

    class Meta:
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.action} @ {self.at:%Y-%m-%d %H:%M}"


class ConfigurationChange(models.Model):
    """An append-only line of the site's configuration history: who changed which tier, rule,
    department, category, calendar day or setting, when, with before and after."""

    at = models.DateTimeField(_("at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    model = models.CharField(_("what"), max_length=40)
    object_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(_("action"), max_length=40)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("configuration change")
        verbose_name_plural = _("configuration changes")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["model", "object_id"])]

    def __str__(self) -> str:
        return f"{self.model}/{self.object_id} {self.action} @ {self.at:%Y-%m-%d %H:%M}"


class OutboxMessage(models.Model):
    """A notification written in the same transaction as the change that causes it, and sent
    afterwards by the relay with retries: a broker or mail outage delays it, loses nothing."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        SMS = "sms", _("SMS")
        IN_APP = "in_app", _("in-app")

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    created_at = models.DateTimeField(auto_now_add=True)
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # A complainant's phone number when the message is an SMS: encrypted like the case's.
    recipient = EncryptedTextField()
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_pending_due",
                condition=Q(state="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient} ({self.state})"


class Handover(models.Model):
    """A hand-over of a case to another department (首问责任制: the sender stays accountable
    until the receiving side accepts; an unaccepted hand-over escalates)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="handovers")
    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    to_department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    requested_at = models.DateTimeField()
    due_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(accepted_at=None), name="one_pending_handover_per_case"
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.to_department_id}"


class ContactLog(models.Model):
    """A real contact with the complainant, or a face-to-face fact-finding (two staff)."""

    class Method(models.TextChoices):
        PHONE = "phone", _("phone")
        VISIT = "visit", _("visit")
        FACE_TO_FACE = "face_to_face", _("face-to-face fact-finding")
        EMAIL = "email", _("e-mail")
        MESSAGE = "message", _("text message")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="contacts")
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    second_staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    method = models.CharField(max_length=16, choices=Method.choices)
    summary = models.TextField()
    acceptance_decision = models.CharField(
        max_length=12,
        blank=True,
        choices=[("accepted", _("accepted")), ("not_accepted", _("not accepted"))],
    )

    def __str__(self) -> str:
        return f"{self.case_id} {self.method} @ {self.at:%Y-%m-%d %H:%M}"


class Reply(models.Model):
    """The reply to the complainant: a written one states the investigation, the facts and
    evidence, the responsibility and the decision."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="replies")
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(
        max_length=16, choices=[*ContactLog.Method.choices, ("written", _("written reply"))]
    )
    investigation = models.TextField(blank=True)
    facts = models.TextField(blank=True)
    responsibility = models.TextField(blank=True)
    decision = models.TextField()
    delay_reason = models.TextField(blank=True)
    legal_route_advised = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.case_id} reply @ {self.at:%Y-%m-%d %H:%M}"


class ReplyTemplate(Named):
    """A reusable wording for replies, kept by the site admin: staff start from it and adapt
    it to the case (investigation, facts, responsibility, decision of a written reply)."""

    investigation = models.TextField(_("investigation"), blank=True)
    facts = models.TextField(_("facts and evidence"), blank=True)
    responsibility = models.TextField(_("responsibility"), blank=True)
    decision = models.TextField(_("decision"), blank=True)
    active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")
        ordering = ["name"]


class SavedFilter(models.Model):
    """A queue filter a member of staff named and keeps (the query string of the queue)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=80)
    query = models.CharField(_("filter"), max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_filter_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Extension(models.Model):
    """A request to move a clock, approved or refused by the role the tier names."""

    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="extensions")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    new_due_at = models.DateTimeField()
    reason = models.TextField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    approved = models.BooleanField(null=True)

    def __str__(self) -> str:
        return f"extension of {self.milestone_id} to {self.new_due_at:%Y-%m-%d %H:%M}"


class Compensation(models.Model):
    """Compensation offered for damage to person or property, within the recorder's limit or
    approved by a role whose limit covers it."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="compensations")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    description = models.TextField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.case_id} ¥{self.amount}"


class Callback(models.Model):
    """回访: the call back after the reply; a dissatisfied one re-opens the case."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="callbacks")
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=16, choices=ContactLog.Method.choices)
    satisfied = models.BooleanField()
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.case_id} callback satisfied={self.satisfied}"


class Approval(models.Model):
    """A manager's recorded approval: to close a case whose tier requires it, or to close as
    unresolvable (at the quarterly review)."""

    class Kind(models.TextChoices):
        CLOSE = "close", _("closing")
        UNRESOLVABLE = "unresolvable", _("closing as unresolvable")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="approvals")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=32, choices=Role.choices)
    at = models.DateTimeField()
    note = models.TextField()

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} approved"


class CaseLink(models.Model):
    """Two cases that belong together: a new issue found on the way, a repeat, a relation."""

    class Kind(models.TextChoices):
        NEW_ISSUE = "new_issue", _("new issue found while handling")
        REPEAT = "repeat", _("repeat complaint")
        RELATED = "related", _("related")

    from_case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="links_out")
    to_case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(max_length=12, choices=Kind.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["from_case", "to_case"], name="case_link_unique"),
            models.CheckConstraint(
                condition=~Q(from_case=models.F("to_case")), name="case_link_not_to_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_case_id} → {self.to_case_id} ({self.kind})"


class EscalationLevel(models.TextChoices):
    """越级投诉: how far over the firm's head the complainant went."""

    FIRM = "firm", _("the firm's leaders")
    COUNTY = "county", _("county-level authorities, websites or media")
    CITY = "city", _("city-level authorities or above")


class ComplainantEscalation(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="escalations")
    level = models.CharField(max_length=8, choices=EscalationLevel.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    note = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.case_id} escalated to {self.level}"


class PerformanceDeduction(models.Model):
    """The performance ledger: points deducted from a person for a case (seed 001 第十条)."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="deductions")
    escalation = models.ForeignKey(
        ComplainantEscalation, on_delete=models.PROTECT, related_name="deductions"
    )
    capacity = models.CharField(
        max_length=16,
        choices=[
            ("supervisor", _("department supervisor")),
            ("responsible", _("person responsible")),
        ],
    )
    points = models.PositiveSmallIntegerField()
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"-{self.points} {self.person_id} ({self.case_id})"


class Notification(models.Model):
    """An in-app notice in a staff member's inbox."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "read_at"]),
            models.Index(fields=["user", "-created_at", "-id"], name="notification_inbox"),
        ]

    def __str__(self) -> str:
        return self.subject


class PublicAccess(models.Model):
    """The complainant's private way back to their case, with no account: an unguessable
    link (only its hash is stored; the link is shown once) and a short access code."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="public_access")
    token_hash = models.CharField(max_length=64, unique=True)
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField()
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"public access to {self.case_id}"


def attachment_path(instance, filename: str) -> str:
    # The stored name never carries the uploaded one (it may hold a person's name).
    import uuid

    return f"cases/{instance.case_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A photo or document on a case, stored per site outside any public URL and served only
    to people allowed to see the case (and to the complainant through their link)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, storage=private_storage)
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    from_complainant = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.original_name


class ReceiptCopy(models.Model):
    """A copy of the receipt by e-mail, sent only once the complainant has confirmed the
    address through a link mailed to it: the form never mails a stranger more than that one
    neutral question. The receipt waits here, encrypted, and is erased once sent."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    address = EncryptedTextField()
    confirm_hash = models.CharField(max_length=64, unique=True)
    receipt = EncryptedTextField(blank=True)
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"receipt copy for {self.case_id}"
