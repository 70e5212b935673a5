"""Error reporting to Sentry, only when SENTRY_DSN is set.

Complainants' identities and contact details must never leave the site (seed 004): events are
sent without default PII (no user, bodies or SQL values), and `scrub_event` removes request
bodies, cookies, any value under a key that names a person's details, and phone numbers and
e-mail addresses in text.
"""

import re
from typing import Any

# Keys whose values are a person's details wherever they appear in an event.
SENSITIVE_KEY_PARTS = (
    "complainant",
    "contact",
    "phone",
    "mobile",
    "email",
    "e_mail",
    "address",
    "id_number",
    "name",
    "password",
    "secret",
    "token",
    "access_code",
    "account",  # the complainant's own account of what happened
)
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)|(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
FILTERED = "[Filtered]"


def _is_sensitive(key: Any) -> bool:
    lowered = str(key).lower()
    return any(part in lowered for part in SENSITIVE_KEY_PARTS)


def _scrub_text(text: str) -> str:
    return _EMAIL.sub(FILTERED, _PHONE.sub(FILTERED, text))


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: FILTERED if _is_sensitive(k) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return _scrub_text(value)
    return value


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    request = event.get("request")
    if isinstance(request, dict):
        for field in ("data", "cookies", "query_string"):
            if field in request:
                request[field] = FILTERED
        headers = request.get("headers")
        if isinstance(headers, dict):
            for header in list(headers):
                if header.lower() in {"cookie", "authorization", "x-forwarded-for"}:
                    headers[header] = FILTERED
    event.pop("user", None)
    for exception in (event.get("exception") or {}).get("values") or []:
        if isinstance(exception.get("value"), str):
            exception["value"] = _scrub_text(exception["value"])
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            if "vars" in frame:
                frame["vars"] = _scrub(frame["vars"])
    for key in ("extra", "contexts", "breadcrumbs"):
        if key in event:
            event[key] = _scrub(event[key])
    if isinstance(event.get("logentry"), dict):
        event["logentry"] = _scrub(event["logentry"])
    if isinstance(event.get("message"), str):
        event["message"] = _scrub_text(event["message"])
    _tag_site(event)
    return event


def _tag_site(event: dict) -> None:
    from django.db import connection

    schema = getattr(connection, "schema_name", None)
    if schema:
        event.setdefault("tags", {})["site"] = schema


def init_sentry(*, dsn: str, environment: str, traces_sample_rate: float, **options) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        # No default PII (the successor of send_default_pii=False): no user identity, no request
        # bodies, no SQL parameters; scrub_event handles what is left.
        data_collection={"user_info": False, "http_bodies": [], "database_query_data": False},
        max_request_body_size="never",
        traces_sample_rate=traces_sample_rate,
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=True)],
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        **options,
    )
