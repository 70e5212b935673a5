from tenants.models import Site
from tenants.permissions import current_site_roles


def site(request) -> dict:
    current = getattr(request, "tenant", None)
    if not isinstance(current, Site):
        return {"current_site": None}
    return {"current_site": current, "site_roles": current_site_roles(request)}
