"""The outbox: notifications are written with the change and sent after it by the relay; an
outage delays them, loses none, and sends none twice."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

import casework.tasks
from casework.models import (
    Case,
    Department,
    MilestoneRule,
    Notification,
    OutboxMessage,
    Tier,
)
from casework.notifications import (
    MAX_ATTEMPTS,
    notify_roles,
    notify_users,
    relay_outbox,
    requeue_failed_messages,
    send_sms,
)
from casework.services import Complainant, register_case
from casework.sms import mask_phone
from casework.tasks import relay_all_outboxes
from tenants.models import Deadline, Role, User
from tenants.services import grant_role

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
PENDING, SENT, FAILED = (
    OutboxMessage.State.PENDING,
    OutboxMessage.State.SENT,
    OutboxMessage.State.FAILED,
)


class MailOutage(ConnectionRefusedError):
    pass


@pytest.fixture
def site_a(world):
    with tenant_context(world.site_a):
        yield world.site_a


@pytest.fixture
def mail_down(monkeypatch):
    """The mail server refuses every connection until the test calls the returned function."""

    def refuse(self, messages):
        raise MailOutage(111, "Connection refused")

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    return lambda: monkeypatch.undo()


def make_case(world) -> Case:
    tier = Tier.objects.create(
        code="outbox-minor",
        name="轻微",
        rank=0,
        handler_role=Role.RECEPTIONIST,
        extension_approver_role=Role.PROJECT_MANAGER,
    )
    MilestoneRule.objects.create(
        tier=tier, code="dispatch", name="派单", amount=10, unit="minutes", met_by="dispatch"
    )
    return register_case(
        channel="phone",
        account="电梯停运",
        tier=tier,
        complainant=Complainant(relation="family", name="李娜", phone="13812345678"),
        received_by=world.people["reception_a"],
        now=NOW,
    )


def outbox_deadline(site):
    return Deadline.objects.filter(site=site, kind=Deadline.Kind.OUTBOX, object_id=0).first()


def mailed(mailoutbox) -> list[str]:
    return sorted(address for message in mailoutbox for address in message.to)


# --- Who is told -----------------------------------------------------------------------------


def test_notify_roles_reaches_the_role_holders_of_this_site_and_only_them(site_a, world):
    notify_roles(
        roles=[
            Role.SITE_ADMIN,
            Role.SERVICE_CENTRE_MANAGER,
            Role.REGIONAL_MANAGER,
            Role.FIRM_ADMIN,
        ],
        subject="电梯停运",
        body="3号楼",
        now=NOW,
    )
    people = world.people
    expected = {people["admin_a"], people["regional_east"], people["firm_admin"]}
    assert {n.user for n in Notification.objects.all()} == expected
    assert sorted(OutboxMessage.objects.values_list("recipient", flat=True)) == sorted(
        u.email for u in expected
    )
    # Not manager_b (site B's manager), nor the receptionist, nor the other firm's admin.
    assert all(m.channel == "email" and m.state == PENDING for m in OutboxMessage.objects.all())


def test_site_b_tells_its_own_people(world):
    with tenant_context(world.site_b):
        notify_roles(
            roles=[Role.SERVICE_CENTRE_MANAGER, Role.REGIONAL_MANAGER], subject="x", now=NOW
        )
        # The south region has no regional manager; regional_east is not told.
        assert [n.user for n in Notification.objects.all()] == [world.people["manager_b"]]
    with tenant_context(world.site_a):
        assert not Notification.objects.exists() and not OutboxMessage.objects.exists()


def test_a_departments_own_supervisor_is_preferred(site_a, world):
    lifts, cleaning = (
        User.objects.create_user(f"{k}@test.example", "x") for k in ("sup_lifts", "sup_cleaning")
    )
    for supervisor in (lifts, cleaning):
        grant_role(user=supervisor, role=Role.DEPARTMENT_SUPERVISOR, site=world.site_a)
    lift_dept = Department.objects.create(code="lifts", name="电梯运行", supervisor=lifts)
    leaderless = Department.objects.create(code="escort", name="陪检")

    notify_roles(roles=[Role.DEPARTMENT_SUPERVISOR], department=lift_dept, subject="a", now=NOW)
    assert [n.user for n in Notification.objects.filter(subject="a")] == [lifts]

    notify_roles(roles=[Role.DEPARTMENT_SUPERVISOR], department=leaderless, subject="b", now=NOW)
    assert {n.user for n in Notification.objects.filter(subject="b")} == {lifts, cleaning}


def test_each_person_is_told_once_and_inactive_people_not_at_all(site_a, world):
    admin = world.people["admin_a"]
    grant_role(user=admin, role=Role.PROJECT_MANAGER, site=world.site_a)
    gone = User.objects.create_user("gone@test.example", "x", is_active=False)
    grant_role(user=gone, role=Role.SITE_ADMIN, site=world.site_a)

    notify_roles(roles=[Role.SITE_ADMIN, Role.PROJECT_MANAGER], subject="x", now=NOW)
    notify_users(users=[admin, admin, None, gone], subject="y", now=NOW)

    assert list(Notification.objects.values_list("user", flat=True)) == [admin.pk, admin.pk]
    assert [m.recipient for m in OutboxMessage.objects.all()].count(admin.email) == 2


def test_a_notification_belongs_to_its_case(site_a, world):
    case = make_case(world)
    notify_users(users=[world.people["admin_a"]], case=case, subject="立项\n通知", now=NOW)
    notice, message = Notification.objects.get(), OutboxMessage.objects.get()
    assert notice.case == case and message.case == case
    # A line break in a subject would be refused by the mail backend on every attempt.
    assert message.subject == "立项 通知"


# --- Nothing leaves inside the transaction ---------------------------------------------------


def test_nothing_is_sent_before_the_relay_runs(
    site_a, world, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        notify_roles(roles=[Role.SITE_ADMIN], subject="立项", now=NOW)
        assert mailoutbox == []
    assert callbacks == [] and mailoutbox == []
    assert OutboxMessage.objects.get().state == PENDING

    assert relay_outbox(now=NOW) == {"sent": 1, "retried": 0, "failed": 0}
    [email] = mailoutbox
    assert email.to == [world.people["admin_a"].email]
    assert email.subject == "立项"
    assert email.from_email == settings.DEFAULT_FROM_EMAIL
    message = OutboxMessage.objects.get()
    assert (message.state, message.sent_at, message.attempts) == (SENT, NOW, 0)


def test_a_rolled_back_change_leaves_nothing_to_send(site_a, world, mailoutbox):
    with pytest.raises(RuntimeError), transaction.atomic():
        notify_roles(roles=[Role.SITE_ADMIN], subject="x", now=NOW)
        raise RuntimeError("the change failed")
    assert not OutboxMessage.objects.exists() and not Notification.objects.exists()
    assert outbox_deadline(world.site_a) is None
    assert relay_outbox(now=NOW) == {"sent": 0, "retried": 0, "failed": 0}
    assert mailoutbox == []


def test_a_message_not_yet_due_waits(site_a, world, mailoutbox):
    notify_roles(roles=[Role.SITE_ADMIN], subject="x", now=NOW)
    assert relay_outbox(now=NOW - timedelta(seconds=1))["sent"] == 0
    assert mailoutbox == []


# --- Outages ---------------------------------------------------------------------------------


def test_a_mail_outage_delays_messages_and_loses_none(site_a, world, mailoutbox, mail_down):
    notify_roles(
        roles=[Role.SITE_ADMIN, Role.REGIONAL_MANAGER, Role.FIRM_ADMIN], subject="x", now=NOW
    )

    assert relay_outbox(now=NOW) == {"sent": 0, "retried": 3, "failed": 0}
    for message in OutboxMessage.objects.all():
        assert message.state == PENDING and message.attempts == 1
        assert message.next_attempt_at == NOW + timedelta(minutes=1)
        assert message.last_error == "MailOutage: Connection refused"
    assert relay_outbox(now=NOW + timedelta(seconds=30))["retried"] == 0  # not due yet

    mail_down()  # the server is back
    later = NOW + timedelta(minutes=1)
    assert relay_outbox(now=later) == {"sent": 3, "retried": 0, "failed": 0}
    assert relay_outbox(now=later + timedelta(hours=1)) == {"sent": 0, "retried": 0, "failed": 0}
    people = world.people
    assert mailed(mailoutbox) == sorted(
        people[k].email for k in ("admin_a", "regional_east", "firm_admin")
    )
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {SENT}


def test_retries_back_off_and_give_up_after_eight_failures(site_a, world, mail_down):
    notify_users(users=[world.people["admin_a"]], subject="x", now=NOW)
    message = OutboxMessage.objects.get()
    waits = []
    for _attempt in range(MAX_ATTEMPTS):
        at = message.next_attempt_at
        relay_outbox(now=at)
        message.refresh_from_db()
        if message.state == PENDING:
            waits.append(message.next_attempt_at - at)
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60)]
    assert (message.state, message.attempts) == (FAILED, MAX_ATTEMPTS)
    assert outbox_deadline(world.site_a) is None
    mail_down()
    assert relay_outbox(now=NOW + timedelta(days=1))["sent"] == 0


def test_an_unreachable_mail_server_is_tried_once_per_batch(site_a, world, monkeypatch):
    tries = []

    def unreachable(self):
        tries.append(1)
        raise MailOutage(111, "Connection refused")

    monkeypatch.setattr(EmailBackend, "open", unreachable)
    notify_roles(
        roles=[Role.SITE_ADMIN, Role.REGIONAL_MANAGER, Role.FIRM_ADMIN], subject="x", now=NOW
    )

    assert relay_outbox(now=NOW) == {"sent": 0, "retried": 3, "failed": 0}
    assert len(tries) == 1
    assert set(OutboxMessage.objects.values_list("last_error", flat=True)) == {
        "MailOutage: Connection refused"
    }


def test_failed_messages_can_be_given_another_chance(site_a, world, mailoutbox, mail_down):
    notify_users(users=[world.people["admin_a"]], subject="x", now=NOW)
    OutboxMessage.objects.update(attempts=MAX_ATTEMPTS - 1)
    relay_outbox(now=NOW)
    assert OutboxMessage.objects.get().state == FAILED

    mail_down()
    later = NOW + timedelta(hours=3)
    assert requeue_failed_messages(now=later) == 1
    assert outbox_deadline(world.site_a).due_at == later
    assert relay_outbox(now=later)["sent"] == 1
    assert len(mailoutbox) == 1


def test_one_failing_message_does_not_hold_up_the_others(
    site_a, world, mailoutbox, monkeypatch, caplog
):
    refused = world.people["admin_a"].email
    deliver = EmailBackend.send_messages

    def picky(self, messages):
        if any(refused in m.to for m in messages):
            raise ValueError(f"mailbox {refused} unavailable")
        return deliver(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", picky)
    # The refused one is first in line.
    notify_users(users=[world.people["admin_a"]], subject="x", now=NOW - timedelta(minutes=1))
    notify_users(
        users=[world.people["firm_admin"], world.people["regional_east"]], subject="y", now=NOW
    )

    assert relay_outbox(now=NOW) == {"sent": 2, "retried": 1, "failed": 0}
    # Recipients are encrypted (random IV): compare after decryption.
    (failed,) = [m for m in OutboxMessage.objects.all() if m.recipient == refused]
    # What is kept and logged about the failure names no one.
    assert failed.last_error == "ValueError"
    assert refused not in caplog.text
    assert len(mailoutbox) == 2


# --- The cross-site index ----------------------------------------------------------------------


def test_the_sites_outbox_row_follows_its_earliest_pending_message(
    site_a, world, mailoutbox, mail_down
):
    site = world.site_a
    assert outbox_deadline(site) is None

    notify_users(users=[world.people["admin_a"]], subject="x", now=NOW)
    assert outbox_deadline(site).due_at == NOW
    notify_users(users=[world.people["firm_admin"]], subject="y", now=NOW + timedelta(hours=1))
    assert outbox_deadline(site).due_at == NOW  # never pushed later by a new message
    notify_users(users=[world.people["firm_admin"]], subject="z", now=NOW - timedelta(hours=1))
    assert outbox_deadline(site).due_at == NOW - timedelta(hours=1)

    relay_outbox(now=NOW)  # both due ones fail: the row moves to their retry
    assert outbox_deadline(site).due_at == NOW + timedelta(minutes=1)
    with tenant_context(world.site_b):
        assert outbox_deadline(world.site_b) is None

    mail_down()
    relay_outbox(now=NOW + timedelta(minutes=1))  # the retries go; the later one waits
    assert outbox_deadline(site).due_at == NOW + timedelta(hours=1)
    relay_outbox(now=NOW + timedelta(hours=1))
    assert outbox_deadline(site) is None
    assert len(mailoutbox) == 3


def test_a_row_lost_from_the_index_is_restored_by_the_relay(site_a, world):
    notify_users(users=[world.people["admin_a"]], subject="x", now=NOW + timedelta(minutes=5))
    Deadline.objects.filter(kind=Deadline.Kind.OUTBOX).delete()
    relay_outbox(now=NOW)
    assert outbox_deadline(world.site_a).due_at == NOW + timedelta(minutes=5)


# --- The beat task -----------------------------------------------------------------------------


@pytest.fixture
def only_the_test_sites(world):
    """Other sites' pending notices (the browser tests' site, whose live server commits) are
    not these tests' to count; this test's transaction forgets them, and rolls back."""
    Deadline.objects.filter(kind=Deadline.Kind.OUTBOX).exclude(
        site__in=[world.site_a, world.site_b]
    ).delete()


def test_the_task_relays_every_site_in_one_pass(world, mailoutbox, only_the_test_sites):
    with tenant_context(world.site_a):
        notify_roles(roles=[Role.SITE_ADMIN], subject="a")
    with tenant_context(world.site_b):
        notify_roles(roles=[Role.SERVICE_CENTRE_MANAGER], subject="b")
    connection.set_schema_to_public()

    results = relay_all_outboxes()

    assert results == {
        "site_a": {"sent": 1, "retried": 0, "failed": 0},
        "site_b": {"sent": 1, "retried": 0, "failed": 0},
    }
    assert mailed(mailoutbox) == sorted(
        [world.people["admin_a"].email, world.people["manager_b"].email]
    )
    assert not Deadline.objects.filter(kind=Deadline.Kind.OUTBOX).exists()
    assert relay_all_outboxes() == {}  # idempotent: nothing left to do
    assert len(mailoutbox) == 2


def test_the_relay_can_be_pointed_at_a_site_from_anywhere(world, mailoutbox):
    with tenant_context(world.site_b):
        notify_roles(roles=[Role.SERVICE_CENTRE_MANAGER], subject="b", now=NOW)
    connection.set_schema_to_public()
    assert relay_outbox(site=world.site_b, now=NOW)["sent"] == 1
    assert connection.schema_name == "public"
    assert mailed(mailoutbox) == [world.people["manager_b"].email]


def test_a_failing_site_does_not_stop_the_others(
    world, mailoutbox, monkeypatch, caplog, only_the_test_sites
):
    with tenant_context(world.site_a):
        notify_roles(
            roles=[Role.SITE_ADMIN], subject="a", now=timezone.now() - timedelta(minutes=1)
        )  # first in line
    with tenant_context(world.site_b):
        notify_roles(roles=[Role.SERVICE_CENTRE_MANAGER], subject="b")
    real_relay = casework.tasks.relay_outbox

    def broken_on_site_a(**kwargs):
        if connection.schema_name == "site_a":
            raise RuntimeError("site A's schema is broken")
        return real_relay(**kwargs)

    monkeypatch.setattr(casework.tasks, "relay_outbox", broken_on_site_a)

    results = relay_all_outboxes()

    assert results == {"site_b": {"sent": 1, "retried": 0, "failed": 0}}
    assert mailed(mailoutbox) == [world.people["manager_b"].email]
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "site_a" in error.getMessage() and error.exc_info is not None
    assert Deadline.objects.filter(site=world.site_a, kind=Deadline.Kind.OUTBOX).exists()


# --- SMS -------------------------------------------------------------------------------------


def test_an_sms_is_relayed_and_its_number_never_logged_in_clear(site_a, world, caplog):
    caplog.set_level(logging.INFO, logger="casework")
    case = make_case(world)
    message = send_sms(case=case, phone=case.complainant_phone, body="您的投诉已受理", now=NOW)
    assert (message.channel, message.state) == ("sms", PENDING)

    assert relay_outbox(now=NOW) == {"sent": 1, "retried": 0, "failed": 0}
    assert "138****5678" in caplog.text
    assert "13812345678" not in caplog.text
    message.refresh_from_db()
    # Kept only as long as it was needed to send.
    assert (message.state, message.recipient) == (SENT, "138****5678")


def test_an_sms_provider_failure_is_retried_without_the_number(site_a, world, caplog, monkeypatch):
    def unreachable(self, *, phone, body):
        raise ConnectionError(f"gateway refused {phone}")

    monkeypatch.setattr("casework.sms.LoggingSmsProvider.send", unreachable)
    send_sms(case=None, phone="+86 138 1234 5678", body="x", now=NOW)

    assert relay_outbox(now=NOW)["retried"] == 1
    message = OutboxMessage.objects.get()
    assert message.last_error == "ConnectionError" and message.attempts == 1
    assert "5678" not in caplog.text


def test_no_sms_is_queued_without_a_number(site_a):
    assert send_sms(case=None, phone="  ", body="x", now=NOW) is None
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("0571-8888 6666", "057****6666"),
        ("12345", "****"),
    ],
)
def test_phone_numbers_are_masked(phone, masked):
    assert mask_phone(phone) == masked


def test_a_pending_sms_does_not_keep_the_number_in_clear(site_a):
    """Seed 002: personal data encrypted. A queued SMS holds the complainant's number."""
    from django.db import connection

    message = send_sms(case=None, phone="13812345678", body="您的投诉已受理", now=NOW)
    with connection.cursor() as cursor:
        cursor.execute("SELECT recipient FROM casework_outboxmessage WHERE id = %s", [message.pk])
        stored = cursor.fetchone()[0]
    assert "13812345678" not in stored
    assert OutboxMessage.objects.get(pk=message.pk).recipient == "13812345678"
