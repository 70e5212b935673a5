from django.shortcuts import render

from casework.selectors import calendar_gap
from tenants.models import Role
from tenants.permissions import current_site_roles, site_role_required
from tenants.selectors import site_staff


@site_role_required()
def office_home(request):
    """The back office's front door for anyone holding a role on this site."""
    roles = current_site_roles(request)
    managers = {Role.SITE_ADMIN, Role.SERVICE_CENTRE_MANAGER, Role.PROJECT_MANAGER}
    return render(
        request,
        "casework/office_home.html",
        {
            "roles": [Role(r).label for r in sorted(roles)],
            "is_site_admin": Role.SITE_ADMIN in roles,
            "staff": site_staff(site=request.tenant),
            "calendar_gap": calendar_gap() if roles & managers else None,
        },
    )
