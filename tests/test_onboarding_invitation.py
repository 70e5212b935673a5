"""Inviting a person to a site: login created if needed, role granted, a one-time link to
choose a password e-mailed through the site's outbox after commit."""

import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from casework.models import OutboxMessage
from casework.notifications import relay_outbox
from tenants.models import Membership, Role, SiteEvent, User
from tenants.services import invite_to_site
from tests.conftest import PASSWORD, PUBLIC_HOST

NEW_PASSWORD = "a-fresh-and-long-password"


def _relayed_link(site) -> str:
    relay_outbox(site=site)
    message = mail.outbox[-1]
    match = re.search(r"https?://\S+/invitation/\S+/", message.body)
    assert match, message.body
    return match.group(0).split("://", 1)[1].split("/", 1)[1]


def test_it_invites_a_new_person_who_chooses_a_password_once(world, client):
    invite_to_site(
        site=world.site_a,
        email=" New.Admin@Example.com ",
        role=Role.SITE_ADMIN,
        invited_by=world.people["firm_admin"],
    )
    user = User.objects.get(email="new.admin@example.com")
    assert not user.has_usable_password()
    assert Membership.objects.filter(user=user, site=world.site_a, role=Role.SITE_ADMIN).exists()
    assert SiteEvent.objects.filter(site=world.site_a, action="invited").exists()
    with tenant_context(world.site_a):
        # Recipients are encrypted at rest: compared after reading.
        assert "new.admin@example.com" in [m.recipient for m in OutboxMessage.objects.all()]

    path = "/" + _relayed_link(world.site_a)
    assert mail.outbox[-1].to == ["new.admin@example.com"]
    form = client.get(path, HTTP_HOST=PUBLIC_HOST, follow=True)
    assert form.status_code == 200 and b'name="new_password1"' in form.content
    set_password_path = form.redirect_chain[-1][0]
    done = client.post(
        set_password_path,
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        HTTP_HOST=PUBLIC_HOST,
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)

    client.logout()
    again = client.get(path, HTTP_HOST=PUBLIC_HOST, follow=True)
    assert b'name="new_password1"' not in again.content


def test_it_tells_a_person_with_a_password_without_a_link(world):
    invite_to_site(site=world.site_b, email="reception_a@test.example", role=Role.RECEPTIONIST)
    relay_outbox(site=world.site_b)
    body = mail.outbox[-1].body
    assert "/invitation/" not in body
    assert world.people["reception_a"].check_password(PASSWORD)
    assert Membership.objects.filter(
        user=world.people["reception_a"], site=world.site_b, role=Role.RECEPTIONIST
    ).exists()


def test_a_weak_password_is_refused_next_to_the_field(world, client):
    invite_to_site(site=world.site_a, email="weak@example.com", role=Role.RECEPTIONIST)
    form = client.get("/" + _relayed_link(world.site_a), HTTP_HOST=PUBLIC_HOST, follow=True)
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "12345678", "new_password2": "12345678"},
        HTTP_HOST=PUBLIC_HOST,
    )
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    assert not User.objects.get(email="weak@example.com").has_usable_password()


@pytest.mark.parametrize(
    ("email", "role", "field"),
    [("not-an-address", Role.RECEPTIONIST, "email"), ("x@example.com", Role.FIRM_ADMIN, "role")],
)
def test_bad_invitations_are_refused_and_change_nothing(world, email, role, field):
    users = User.objects.count()
    with pytest.raises(ValidationError) as error:
        invite_to_site(site=world.site_a, email=email, role=role)
    assert field in error.value.message_dict
    assert User.objects.count() == users
