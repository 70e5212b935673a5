"""What a complainant can do without an account: follow their case through a private link,
add information, rate the handling. Services (state changes) and the public view of a case.

The link's token is shown once and only its hash is kept. The 6-digit code is kept as an HMAC
keyed with the server's secret: a million codes are no obstacle to a slow password hash once
the database leaks, but without the secret they cannot be tried offline at all, and online
five wrong codes lock the link for a quarter of an hour. (A password hash would also cost
~0.3 s inside the intake transaction, which holds the day's reference counter.)
"""

import hashlib
import io
import secrets
from datetime import datetime, timedelta

import filetype
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from casework.models import (
    Attachment,
    Case,
    CaseStatus,
    MetBy,
    Milestone,
    MilestoneState,
    PublicAccess,
    ReceiptCopy,
)
from casework.services import CaseworkError, _record

WRONG_CODES_BEFORE_LOCK = 5
LOCK_FOR = timedelta(minutes=15)
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 5
# Checked against the file's content, never its name or the browser's claim.
ALLOWED_TYPES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "application/pdf": None,
}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _code_digest(token: str, code: str) -> str:
    return salted_hmac(
        "carefront.public-access-code", f"{token}:{code}", algorithm="sha256"
    ).hexdigest()


def grant_public_access(
    *, case: Case, now: datetime | None = None, new: bool = False
) -> tuple[str, str]:
    """A new private link and access code for the complainant; any earlier one stops working.
    Returns (token, code), to be shown once. `new`: the case was registered in this
    transaction, so it has no link yet and one INSERT does."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(24)
    code = f"{secrets.randbelow(10**6):06d}"
    fields = {
        "token_hash": _digest(token),
        "code_hash": _code_digest(token, code),
        "created_at": now,
        "failed_attempts": 0,
        "locked_until": None,
    }
    if new or not PublicAccess.objects.filter(case=case).update(**fields):
        PublicAccess.objects.create(case=case, **fields)
    return token, code


# The clocks a complainant notices, in the words the receipt uses; the others (dispatch,
# reports to managers) are the service centre's own business.
PUBLIC_STEPS = {
    MetBy.CONTACT: lambda: _("we contact you"),
    MetBy.ACCEPTANCE: lambda: _("we tell you whether we take your complaint on"),
    MetBy.REPLY: lambda: _("we reply to you"),
    MetBy.CLOSE: lambda: _("your complaint is resolved"),
}
# Nobody can be contacted or replied to about an anonymous complaint.
ANONYMOUS_STEPS = {MetBy.CLOSE}


def public_step_name(met_by: str) -> str:
    """What the complainant waits for next, in the reader's language ('' if not theirs)."""
    name = PUBLIC_STEPS.get(met_by)
    return name() if name else ""


def next_public_step(*, case: Case) -> Milestone | None:
    """The case's next open clock that the complainant will notice (see PUBLIC_STEPS)."""
    kinds = ANONYMOUS_STEPS if case.anonymous else set(PUBLIC_STEPS)
    if "milestones" in getattr(case, "_prefetched_objects_cache", {}):
        clocks = case.milestones.all()  # a new case carries its clocks (register_case)
    else:
        clocks = case.milestones.select_related("rule")
    open_clocks = [m for m in clocks if m.state == MilestoneState.OPEN and m.rule.met_by in kinds]
    return min(open_clocks, key=lambda m: m.due_at, default=None)


def case_for_token(token: str) -> Case | None:
    """The case a link belongs to, or None; says nothing about whether the code is known."""
    access = PublicAccess.objects.select_related("case").filter(token_hash=_digest(token)).first()
    return access.case if access else None


def open_case(*, token: str, code: str, now: datetime | None = None) -> Case:
    """The case behind a link and its code, or a CaseworkError that says what is wrong."""
    now = now or timezone.now()
    with transaction.atomic():
        access = (
            PublicAccess.objects.select_for_update()
            .select_related("case")
            .filter(token_hash=_digest(token))
            .first()
        )
        if access is None:
            raise CaseworkError(_("This tracking link is not valid."))
        if access.locked_until and access.locked_until > now:
            raise CaseworkError(
                _("Too many wrong codes. Try again after %(time)s.")
                % {"time": timezone.localtime(access.locked_until).strftime("%H:%M")}
            )
        if constant_time_compare(_code_digest(token, (code or "").strip()), access.code_hash):
            if access.failed_attempts:
                access.failed_attempts = 0
                access.save(update_fields=["failed_attempts"])
            return access.case
        access.failed_attempts += 1
        if access.failed_attempts >= WRONG_CODES_BEFORE_LOCK:
            access.failed_attempts, access.locked_until = 0, now + LOCK_FOR
        access.save(update_fields=["failed_attempts", "locked_until"])
    raise CaseworkError({"code": _("This access code is not right.")})


def clean_upload(upload) -> tuple[bytes, str]:
    """The bytes to store and their type: the type read from the content; images re-encoded,
    which drops their metadata (location, camera, the phone owner's name)."""
    if upload.size > MAX_FILE_BYTES:
        raise CaseworkError(
            {"attachments": _("%(name)s is larger than 10 MB.") % {"name": upload.name}}
        )
    data = upload.read()
    kind = filetype.guess(data)
    mime = kind.mime if kind else None
    if mime not in ALLOWED_TYPES:
        raise CaseworkError(
            {
                "attachments": _("%(name)s is not a photo (JPEG, PNG, WebP) or a PDF.")
                % {"name": upload.name}
            }
        )
    image_format = ALLOWED_TYPES[mime]
    if image_format is None:
        return data, mime
    try:
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)
            # Rebuilt from its pixels alone: nothing of the original's metadata survives.
            clean = Image.frombytes(image.mode, image.size, image.tobytes())
            if image.mode == "P":
                clean.putpalette(image.getpalette())
            out = io.BytesIO()
            clean.save(out, format=image_format)
    except (OSError, ValueError, Image.DecompressionBombError):
        raise CaseworkError(
            {"attachments": _("%(name)s could not be read as an image.") % {"name": upload.name}}
        ) from None
    return out.getvalue(), mime


def attach_files(
    *, case: Case, uploads, by=None, from_complainant: bool = False, now: datetime | None = None
) -> list[Attachment]:
    """Check every file first, then store them all: a bad file stores nothing."""
    now = now or timezone.now()
    uploads = list(uploads or [])
    if len(uploads) > MAX_FILES:
        raise CaseworkError({"attachments": _("Attach at most 5 files.")})
    cleaned = [(upload, *clean_upload(upload)) for upload in uploads]
    attachments = []
    for upload, data, mime in cleaned:
        attachment = Attachment(
            case=case,
            original_name=(upload.name or "file")[:200],
            content_type=mime,
            size=len(data),
            uploaded_at=now,
            uploaded_by=by,
            from_complainant=from_complainant,
        )
        attachment.file.save("upload", ContentFile(data), save=False)
        attachment.save()
        attachments.append(attachment)
    return attachments


@transaction.atomic
def add_information(*, case: Case, text: str, uploads=(), now: datetime | None = None) -> None:
    """The complainant adds to their complaint; the case's owner is told."""
    from casework.notifications import notify_users

    now = now or timezone.now()
    text = (text or "").strip()
    if not text and not uploads:
        raise CaseworkError({"text": _("Write something or attach a file.")})
    if len(text) > 5000:
        raise CaseworkError({"text": _("Keep it under 5,000 characters.")})
    case = Case.objects.select_for_update().get(pk=case.pk)
    files = attach_files(case=case, uploads=uploads, from_complainant=True, now=now)
    _record(
        case,
        actor=None,
        action="information_added",
        at=now,
        public=True,
        note=text,
        after={"files": len(files)},
    )
    notify_users(
        users=[case.owner],
        case=case,
        now=now,
        subject=_("%(reference)s: the complainant added information")
        % {"reference": case.reference},
    )


@transaction.atomic
def rate_handling(
    *, case: Case, rating: int, comment: str = "", now: datetime | None = None
) -> None:
    """The complainant's satisfaction, once they have had a reply."""
    now = now or timezone.now()
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.replied_at is None:
        raise CaseworkError(_("You can rate the handling once you have had our reply."))
    if rating not in range(1, 6):
        raise CaseworkError({"rating": _("Rate from 1 to 5.")})
    case.satisfaction, case.satisfaction_comment = rating, (comment or "").strip()[:2000]
    case.save(update_fields=["satisfaction", "satisfaction_comment"])
    _record(
        case,
        actor=None,
        action="rated",
        at=now,
        public=True,
        after={"rating": rating},
        note=case.satisfaction_comment,
    )


PUBLIC_MESSAGES = {
    "registered": lambda e: _("Your complaint was registered."),
    "resolved_at_contact": lambda e: _("Your complaint was settled when you raised it."),
    "contacted": lambda e: _("We contacted you."),
    "replied": lambda e: _("We replied: %(decision)s") % {"decision": e.note},
    "called_back": lambda e: _("We called you back about our handling."),
    "closed": lambda e: _("Your complaint was closed."),
    "information_added": lambda e: _("You added information."),
    "rated": lambda e: (
        _("You rated our handling %(rating)s out of 5.") % {"rating": e.after.get("rating")}
    ),
}


def public_timeline(*, case: Case) -> list[tuple[datetime, str]]:
    """What the complainant sees of the timeline: public events only, in plain words, never
    a member of staff's name or an internal note."""
    events = case.timeline.filter(public=True, action__in=list(PUBLIC_MESSAGES)).order_by("at")
    return [(event.at, PUBLIC_MESSAGES[event.action](event)) for event in events]


def public_status(case: Case) -> str:
    if case.status == CaseStatus.CLOSED or case.status == CaseStatus.RESOLVED_AT_CONTACT:
        return _("Closed")
    if case.status == CaseStatus.REPLIED:
        return _("Replied")
    return _("Being handled")


COPY_CONFIRMATION_DAYS = 3


def request_receipt_copy(
    *, case: Case, address: str, receipt_text: str, confirm_url, now: datetime | None = None
) -> ReceiptCopy:
    """Ask the address's owner to confirm; `confirm_url(token)` builds the link. Runs in the
    intake transaction."""
    from casework.notifications import send_email

    now = now or timezone.now()
    token = secrets.token_urlsafe(24)
    copy = ReceiptCopy.objects.create(
        case=case,
        address=address,
        confirm_hash=_digest(token),
        receipt=receipt_text,
        created_at=now,
    )
    send_email(
        case=case,
        address=address,
        now=now,
        subject=_("Please confirm your e-mail address"),
        body=_(
            "Someone filed a complaint and asked for a copy of its receipt at this address. "
            "If it was you, open this link within %(days)s days to receive it:\n\n%(url)s\n\n"
            "If it was not you, ignore this message: nothing more will be sent."
        )
        % {"days": COPY_CONFIRMATION_DAYS, "url": confirm_url(token)},
    )
    return copy


@transaction.atomic
def confirm_receipt_copy(*, token: str, now: datetime | None = None) -> Case:
    """The address is confirmed: the receipt goes out once and is erased here."""
    from casework.notifications import send_email

    now = now or timezone.now()
    copy = (
        ReceiptCopy.objects.select_for_update()
        .select_related("case")
        .filter(confirm_hash=_digest(token))
        .first()
    )
    if copy is None or copy.created_at < now - timedelta(days=COPY_CONFIRMATION_DAYS):
        raise CaseworkError(_("This confirmation link is not valid or has expired."))
    if copy.confirmed_at is None:
        send_email(
            case=copy.case,
            address=copy.address,
            now=now,
            subject=_("Your complaint %(reference)s") % {"reference": copy.case.reference},
            body=copy.receipt,
        )
        copy.confirmed_at, copy.receipt = now, ""
        copy.save(update_fields=["confirmed_at", "receipt"])
    return copy.case
