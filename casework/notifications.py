"""Notifications through the transactional outbox (docs/decisions/0006-outbox.md).

Services call `notify_users`, `notify_roles` and `send_sms` inside their own transaction: the
in-app notice and the outbox rows commit or roll back with the change that caused them, and
nothing leaves the process there. `relay_outbox`, run by the `relay_all_outboxes` beat task,
sends what is due afterwards and retries with back-off, so a mail, SMS or broker outage delays
a message and loses none.

A site with pending messages has one `Deadline(kind=OUTBOX, object_id=0)` row in the public
schema, due no later than its earliest pending message: the task finds every site with
something to send in one query instead of visiting each schema.

Everything here runs in the current site's schema (`connection.tenant` is a `Site`).
"""

import logging
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, tenant_context

from casework.models import Case, Department, Notification, OutboxMessage
from casework.sms import get_sms_provider, mask_phone
from tenants.models import SITE_ROLES, Deadline, Membership, Role, Site, User

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)

_SUBJECT_LENGTH = 200  # OutboxMessage.subject and Notification.subject
_OUTBOX_OBJECT_ID = 0  # one index row per site, not per message


def _current_site() -> Site:
    site = connection.tenant
    if not isinstance(site, Site):
        raise RuntimeError("Notifications exist only inside a site's schema.")
    return site


def _one_line(subject) -> str:
    # A line break in a subject is a header injection to Django's mail (BadHeaderError), and
    # it would fail on every retry.
    return " ".join(str(subject).split())[:_SUBJECT_LENGTH]


def _wake_relay_by(site: Site, due_at: datetime) -> None:
    """Make sure the site's outbox row in the cross-site index is due no later than `due_at`.

    INSERT … ON CONFLICT rather than update_or_create: two transactions notifying on one site
    at once would both miss the row and one would fail on the unique constraint.
    """
    quote = connection.ops.quote_name
    table = f"{quote(get_public_schema_name())}.{quote(Deadline._meta.db_table)}"
    with connection.cursor() as cursor:
        cursor.execute(
            # Identifiers come from the model's metadata; every value is a parameter.
            f"INSERT INTO {table} AS d (site_id, kind, object_id, due_at) "  # noqa: S608
            "VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (site_id, kind, object_id) "
            "DO UPDATE SET due_at = LEAST(d.due_at, EXCLUDED.due_at)",
            [site.pk, Deadline.Kind.OUTBOX, _OUTBOX_OBJECT_ID, due_at],
        )


# --- Writing (in the caller's transaction) ---------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """One message to some people, for `notify_all`."""

    users: tuple[User | None, ...]
    subject: str
    case: Case | None = None
    body: str = ""


# savepoint=False: nested in a service's transaction it adds no savepoint, and a failure here
# rolls the whole change back, so no change commits without its notifications.
@transaction.atomic(savepoint=False)
def notify_all(*, notices: Iterable[Notice], now: datetime | None = None) -> None:
    """Send several notices at once: to each distinct active user of a notice, an in-app
    notice and an e-mail through the outbox. Three statements however many notices, so
    that the deadline sweep writes a site's escalations in one go."""
    now = now or timezone.now()
    site = _current_site()
    notifications, emails = [], []
    for notice in notices:
        recipients = {u.pk: u for u in notice.users if u is not None and u.is_active}
        subject = _one_line(notice.subject)
        for user in recipients.values():
            notifications.append(
                Notification(
                    user=user, case=notice.case, created_at=now, subject=subject, body=notice.body
                )
            )
            if user.email:
                emails.append(
                    OutboxMessage(
                        case=notice.case,
                        channel=OutboxMessage.Channel.EMAIL,
                        recipient=user.email,
                        subject=subject,
                        body=notice.body,
                        state=OutboxMessage.State.PENDING,
                        next_attempt_at=now,
                    )
                )
    if notifications:
        Notification.objects.bulk_create(notifications)
    if emails:
        OutboxMessage.objects.bulk_create(emails)
        _wake_relay_by(site, now)


def notify_users(
    *,
    users: Iterable[User | None],
    case: Case | None = None,
    subject: str,
    body: str = "",
    now: datetime | None = None,
) -> None:
    """Tell each distinct active user: an in-app notice, and an e-mail through the outbox."""
    notify_all(notices=[Notice(users=tuple(users), case=case, subject=subject, body=body)], now=now)


class RoleHolders:
    """Who holds which role on a site, read in one query for many questions (the deadline
    sweep tells the chain's role of every clock it escalates on a site).

    `holders(roles, department)` answers as `role_holders` does, for any of the `roles`
    given here.
    """

    def __init__(self, *, site: Site, roles: Iterable[str]) -> None:
        self.roles = frozenset(str(role) for role in roles if role)
        scope = Q(site_id=site.pk, role__in=self.roles & SITE_ROLES)
        if Role.REGIONAL_MANAGER in self.roles and site.region_id:
            scope |= Q(region_id=site.region_id, role=Role.REGIONAL_MANAGER)
        if Role.FIRM_ADMIN in self.roles:
            scope |= Q(firm_id=site.firm_id, role=Role.FIRM_ADMIN)
        self._by_role: dict[str, dict[int, User]] = {role: {} for role in self.roles}
        if not self.roles:
            return
        # The membership constraint ties each role to one kind of scope, so grouping by role
        # alone is exact.
        memberships = (
            Membership.objects.filter(scope, user__is_active=True)
            .select_related("user")
            .order_by("user_id")
        )
        for membership in memberships:
            self._by_role[membership.role][membership.user_id] = membership.user

    def holders(self, roles: Iterable[str], department: Department | None = None) -> list[User]:
        wanted = {str(role) for role in roles if role}
        if not wanted <= self.roles:
            raise ValueError(f"roles {sorted(wanted - self.roles)} were not read")
        preferred: list[User] = []
        supervisor = department.supervisor if department is not None else None
        if Role.DEPARTMENT_SUPERVISOR in wanted and supervisor is not None and supervisor.is_active:
            preferred.append(supervisor)
            wanted.discard(Role.DEPARTMENT_SUPERVISOR)
        found: dict[int, User] = {}
        for role in wanted:
            found.update(self._by_role[role])
        return preferred + [found[pk] for pk in sorted(found) if found[pk] not in preferred]


def role_holders(
    *, site: Site, roles: Iterable[str], department: Department | None = None
) -> list[User]:
    """Active people holding any of `roles` on `site`: site roles by the site's memberships,
    the regional manager by the site's region, firm admins by its firm.

    With a `department` whose supervisor is set and active, "department_supervisor" means
    that supervisor alone, not every supervisor of the site.
    """
    roles = [str(role) for role in roles if role]
    return RoleHolders(site=site, roles=roles).holders(roles, department=department)


def notify_roles(
    *,
    roles: Iterable[str],
    case: Case | None = None,
    subject: str,
    body: str = "",
    now: datetime | None = None,
    department: Department | None = None,
) -> None:
    """Tell everyone who holds any of `roles` on the current site (see `role_holders`)."""
    users = role_holders(site=_current_site(), roles=roles, department=department)
    notify_users(users=users, case=case, subject=subject, body=body, now=now)


@transaction.atomic(savepoint=False)
def send_sms(
    *, case: Case | None, phone: str, body: str, now: datetime | None = None
) -> OutboxMessage | None:
    """Queue a text message to a complainant. Nothing is queued without a number (anonymous
    complaints keep none)."""
    phone = (phone or "").strip()
    if not phone:
        return None
    now = now or timezone.now()
    message = OutboxMessage.objects.create(
        case=case,
        channel=OutboxMessage.Channel.SMS,
        recipient=phone,
        body=body,
        state=OutboxMessage.State.PENDING,
        next_attempt_at=now,
    )
    _wake_relay_by(_current_site(), now)
    return message


def send_email(
    *, case: Case | None, address: str, subject: str, body: str, now: datetime | None = None
) -> OutboxMessage:
    """Queue an e-mail to a complainant's address. Callers make sure the address was
    confirmed first (casework.public.request_receipt_copy), except for the confirmation."""
    now = now or timezone.now()
    message = OutboxMessage.objects.create(
        case=case,
        channel=OutboxMessage.Channel.EMAIL,
        recipient=address.strip(),
        subject=_one_line(subject),
        body=body,
        state=OutboxMessage.State.PENDING,
        next_attempt_at=now,
    )
    _wake_relay_by(_current_site(), now)
    return message


# --- Relaying (after commit, from the beat task) ---------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, … minutes after the 1st, 2nd, 3rd, … failure, never more than an hour."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


def _describe(error: Exception) -> str:
    """What went wrong, without personal data: SMTP and provider messages often quote the
    recipient's address or number, so only the class, the SMTP code or the OS reason stay."""
    if isinstance(error, MailUnreachable):
        return str(error)
    name = type(error).__name__
    code = getattr(error, "smtp_code", None)
    if code:
        return f"{name}: SMTP {code}"
    is_os_error = isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)
    if is_os_error and error.strerror:
        return f"{name}: {error.strerror}"
    return name


class MailUnreachable(Exception):
    """The mail server could not be reached earlier in this batch; not tried again in it."""


class _Transports:
    """The mail connection (opened once for a batch) and the SMS provider, made on first use."""

    def __init__(self) -> None:
        self._mail = None
        self._mail_down: str | None = None
        self._sms = None

    def _mail_connection(self):
        if self._mail_down is not None:
            # Without this a black-holed server costs a connect timeout per message, while
            # the batch holds its row locks.
            raise MailUnreachable(self._mail_down)
        if self._mail is None:
            mail = get_connection(
                fail_silently=False, timeout=getattr(settings, "EMAIL_TIMEOUT", None) or 30
            )
            try:
                # Opened here, the SMTP backend keeps one session for the batch instead of one
                # per message.
                mail.open()
            except Exception as error:
                self._mail_down = _describe(error)
                raise
            self._mail = mail
        return self._mail

    def deliver(self, message: OutboxMessage) -> None:
        if message.channel == OutboxMessage.Channel.EMAIL:
            email = EmailMessage(
                subject=message.subject,
                body=message.body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[message.recipient],
                connection=self._mail_connection(),
            )
            if email.send() == 0:
                raise RuntimeError("the mail backend accepted nothing")
        elif message.channel == OutboxMessage.Channel.SMS:
            if self._sms is None:
                self._sms = get_sms_provider()
            self._sms.send(phone=message.recipient, body=message.body)
        elif message.channel != OutboxMessage.Channel.IN_APP:
            raise ValueError(f"unknown channel {message.channel!r}")

    def reset(self) -> None:
        """After a failure: the next e-mail gets a fresh SMTP session, in case this one broke."""
        if self._mail is not None:
            try:
                self._mail.close()
            except Exception:
                logger.debug("closing the mail connection failed", exc_info=True)
            self._mail = None


def _reschedule(site: Site) -> None:
    """Point the site's outbox row at its earliest pending message, or remove it.

    The row is locked before pending messages are looked at: a transaction that queued a
    message and lowered the row is waited for and its message seen, and one that has not
    reached the row yet will insert or lower it itself. Either way nothing pending is left
    without a row.
    """
    with transaction.atomic():
        row = (
            Deadline.objects.select_for_update()
            .filter(site=site, kind=Deadline.Kind.OUTBOX, object_id=_OUTBOX_OBJECT_ID)
            .first()
        )
        earliest = OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING).aggregate(
            earliest=Min("next_attempt_at")
        )["earliest"]
        if earliest is None:
            if row is not None:
                row.delete()
        elif row is None:
            _wake_relay_by(site, earliest)
        elif row.due_at != earliest:
            # Also later than before: messages pushed back must not wake the relay for nothing.
            row.due_at = earliest
            row.save(update_fields=["due_at"])


def relay_outbox(
    *, site: Site | None = None, limit: int = 200, now: datetime | None = None
) -> dict[str, int]:
    """Send the current site's (or `site`'s) due outbox messages, at most `limit` of them.

    Messages are claimed with SKIP LOCKED, so relays running at once never send one message
    twice; each is marked sent, or pushed back (`retry_delay`) and after `MAX_ATTEMPTS`
    failures marked failed. One failing message never holds up the others. Delivery is at
    least once: a crash between sending and commit sends that batch again.
    """
    if site is not None and site.schema_name != connection.schema_name:
        with tenant_context(site):
            return relay_outbox(limit=limit, now=now)
    site = _current_site()
    now = now or timezone.now()
    counts = {"sent": 0, "retried": 0, "failed": 0}
    with transaction.atomic():
        claimed = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(state=OutboxMessage.State.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")[:limit]
        )
        transports = _Transports()
        try:
            for message in claimed:
                counts[_attempt(message, transports, now=now)] += 1
        finally:
            transports.reset()
    _reschedule(site)
    if any(counts.values()):
        logger.info("Outbox of %s: %s", site.schema_name, counts)
    return counts


@transaction.atomic
def requeue_failed_messages(*, now: datetime | None = None) -> int:
    """Give the current site's failed messages a fresh series of attempts, e.g. after an
    outage that outlasted the retries (about two hours). Returns how many were requeued."""
    now = now or timezone.now()
    count = OutboxMessage.objects.filter(state=OutboxMessage.State.FAILED).update(
        state=OutboxMessage.State.PENDING, attempts=0, next_attempt_at=now
    )
    if count:
        _wake_relay_by(_current_site(), now)
    return count


def _attempt(message: OutboxMessage, transports: _Transports, *, now: datetime) -> str:
    try:
        transports.deliver(message)
    except Exception as error:
        transports.reset()
        message.attempts += 1
        message.last_error = _describe(error)[:500]
        if message.attempts >= MAX_ATTEMPTS:
            message.state = OutboxMessage.State.FAILED
            outcome = "failed"
            logger.error(
                "Outbox message %s (%s) failed for good after %d attempts: %s",
                message.pk,
                message.channel,
                message.attempts,
                message.last_error,
            )
        else:
            message.next_attempt_at = now + retry_delay(message.attempts)
            outcome = "retried"
            logger.warning(
                "Outbox message %s (%s) failed, attempt %d, retry at %s: %s",
                message.pk,
                message.channel,
                message.attempts,
                message.next_attempt_at.isoformat(),
                message.last_error,
            )
        message.save(update_fields=["attempts", "last_error", "state", "next_attempt_at"])
        return outcome
    message.state = OutboxMessage.State.SENT
    message.sent_at = now
    message.last_error = ""
    if message.channel == OutboxMessage.Channel.SMS:
        # The number was needed only to send: what stays is enough to tell messages apart.
        message.recipient = mask_phone(message.recipient)
    message.save(update_fields=["state", "sent_at", "last_error", "recipient"])
    return "sent"
