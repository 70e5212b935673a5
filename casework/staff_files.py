"""Files staff attach to a case from the case page.

This belongs in `casework.services` (it is kept apart only while others edit that module):
one transaction, the same checked upload path as the complainant's (`casework.public`: type
read from the content, images re-encoded without their metadata), a timeline event."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casework.models import Attachment, Case
from casework.public import attach_files
from casework.services import CaseworkError, _lock, _record, _require_staff


@transaction.atomic
def attach_staff_files(
    *, case: Case, by, uploads, note: str = "", now: datetime | None = None
) -> list[Attachment]:
    """Check every file, then store them all on the case (a bad file stores nothing)."""
    now = now or timezone.now()
    _require_staff(by)
    case = _lock(case)
    uploads = list(uploads or [])
    if not uploads:
        raise CaseworkError({"attachments": _("Choose at least one file.")})
    files = attach_files(case=case, uploads=uploads, by=by, now=now)
    _record(
        case,
        actor=by,
        action="files_attached",
        at=now,
        note=note.strip(),
        after={"files": [f.original_name for f in files]},
    )
    return files
