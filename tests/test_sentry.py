"""Errors reach Sentry without the complainant's identity or contact details."""

import sentry_sdk
from sentry_sdk.transport import Transport

from carefront.sentry import FILTERED, init_sentry, scrub_event


class RecordingTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events: list[dict] = []

    def capture_envelope(self, envelope):
        for item in envelope.items:
            event = item.get_event()
            if event is not None:
                self.events.append(event)


def _report_a_failure_while_handling(complainant_phone, complainant_email, account):
    try:
        raise ValueError(f"could not notify {complainant_phone} / {complainant_email}")
    except ValueError:
        sentry_sdk.capture_exception()


def test_a_reported_error_carries_no_complainant_details():
    transport = RecordingTransport()
    init_sentry(
        dsn="https://public@sentry.invalid/1",
        environment="test",
        traces_sample_rate=0.0,
        transport=transport,
    )
    try:
        _report_a_failure_while_handling(
            complainant_phone="13812345678",
            complainant_email="li.na@example.com",
            account="我母亲在电梯里被困了二十分钟",
        )
        sentry_sdk.flush()
    finally:
        sentry_sdk.init(dsn=None)

    assert len(transport.events) == 1
    text = repr(transport.events[0])
    assert "ValueError" in text
    for secret in ("13812345678", "li.na@example.com", "电梯里被困"):
        assert secret not in text
    assert transport.events[0]["exception"]["values"][0]["value"] == (
        f"could not notify {FILTERED} / {FILTERED}"
    )


def test_request_bodies_cookies_and_user_are_dropped():
    event = {
        "request": {
            "data": {"name": "王芳", "phone": "021-62345678"},
            "cookies": {"sessionid": "abc"},
            "headers": {"Cookie": "sessionid=abc", "User-Agent": "x"},
        },
        "user": {"email": "staff@example.com"},
        "extra": {"complainant_name": "王芳", "case_reference": "20261122-SVC-007"},
        "message": "call back 13912345678 today",
    }
    scrubbed = scrub_event(event)
    assert scrubbed["request"]["data"] == FILTERED
    assert scrubbed["request"]["cookies"] == FILTERED
    assert scrubbed["request"]["headers"]["Cookie"] == FILTERED
    assert scrubbed["request"]["headers"]["User-Agent"] == "x"
    assert "user" not in scrubbed
    assert scrubbed["extra"] == {"complainant_name": FILTERED, "case_reference": "20261122-SVC-007"}
    assert scrubbed["message"] == f"call back {FILTERED} today"
