from casework.selectors import calendar_gap
from casework.views.queue import render_queue
from tenants.models import Role
from tenants.permissions import current_site_roles, site_role_required


@site_role_required()
def office_home(request):
    """The back office's front door: the queue, with the managers' warnings above it."""
    roles = current_site_roles(request)
    managers = {Role.SITE_ADMIN, Role.SERVICE_CENTRE_MANAGER, Role.PROJECT_MANAGER}
    return render_queue(
        request,
        template="casework/office_home.html",
        extra={
            "is_site_admin": Role.SITE_ADMIN in roles,
            "calendar_gap": calendar_gap() if roles & managers else None,
        },
    )


@site_role_required()
def attachment(request, case_id: int, attachment_id: int):
    """A case file, for staff of this site; never for the people the complaint is about."""
    from django.http import Http404

    from casework.models import Attachment
    from casework.selectors import may_see_complainant

    item = (
        Attachment.objects.select_related("case").filter(pk=attachment_id, case_id=case_id).first()
    )
    if item is None or not may_see_complainant(user=request.user, case=item.case):
        raise Http404
    return serve_attachment(item)


def serve_attachment(item):
    """The file with headers that keep a browser from running or caching it."""
    from django.http import FileResponse

    response = FileResponse(item.file.open("rb"), content_type=item.content_type)
    response["Content-Disposition"] = (
        "inline" if item.content_type.startswith("image/") else ("attachment")
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
