"""Keyed blind indexes of a complainant's name, phone and e-mail (docs/decisions/0008).

The values themselves are encrypted at rest (casework.fields) and cannot be searched in SQL.
Beside each, the case stores an HMAC of its normalised form: staff who type a complainant's
whole phone number, e-mail address or name find the case by exact match, while the database
(and a copy of it) reveals neither the value nor a way to test guesses without the server's
secret. Substrings of these fields are not searchable, by design.
"""

import re
import unicodedata

from django.utils.crypto import salted_hmac

KINDS = ("name", "phone", "email")


def normalise(kind: str, value: str) -> str:
    """The form two spellings of the same value share: a phone's digits without the +86
    country code, an e-mail in lower case, a name without spaces and case."""
    value = unicodedata.normalize("NFKC", value or "").strip()
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        if digits.startswith("0086"):
            digits = digits[4:]
        elif digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        return digits
    if kind == "email":
        return value.casefold()
    return re.sub(r"\s+", "", value).casefold()


def blind_index(kind: str, value: str) -> str:
    """The HMAC-SHA256 of the normalised value (hex), or "" for an empty one."""
    normal = normalise(kind, value)
    if not normal:
        return ""
    return salted_hmac(f"carefront.blind-index.{kind}", normal, algorithm="sha256").hexdigest()


def complainant_index_fields(*, name: str, phone: str, email: str) -> dict[str, str]:
    """The three index columns of a case, from its complainant's (plain) details."""
    return {
        "complainant_name_index": blind_index("name", name),
        "complainant_phone_index": blind_index("phone", phone),
        "complainant_email_index": blind_index("email", email),
    }


def search_indexes(term: str) -> dict[str, str]:
    """The index values a typed search term could match: only as a whole phone number (7
    digits or more), a whole e-mail address, or a whole name."""
    term = (term or "").strip()
    found = {}
    if "@" in term:
        found["complainant_email_index"] = blind_index("email", term)
    elif len(normalise("phone", term)) >= 7 and not re.search(r"[^\d\s+\-()]", term):
        found["complainant_phone_index"] = blind_index("phone", term)
    if term and "@" not in term:
        found["complainant_name_index"] = blind_index("name", term)
    return found
