"""Text messages to complainants, through a provider chosen by `settings.SMS_PROVIDER`.

The default provider only logs, with the number masked: phone numbers are a complainant's
personal data and never appear in clear in logs or error reports.
"""

import logging
import re
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsProvider(Protocol):
    """Sends one text message or raises; the outbox relay retries on any exception."""

    def send(self, *, phone: str, body: str) -> None: ...


def mask_phone(phone: str) -> str:
    """`13812345678` -> `138****5678`: enough to tell numbers apart in a log, not to call."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) > 11 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) < 8:
        return "****"
    return f"{digits[:3]}****{digits[-4:]}"


class LoggingSmsProvider:
    """Development and test provider: records that a message would have gone out."""

    def send(self, *, phone: str, body: str) -> None:
        # The body is left out too: it may quote the complaint.
        logger.info("SMS sent to %s (%d characters)", mask_phone(phone), len(body))


def get_sms_provider() -> SmsProvider:
    return import_string(settings.SMS_PROVIDER)()
