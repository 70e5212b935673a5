"""Operations on a site's page tree. Run inside the site's schema (tenant_context)."""

from django.db import transaction
from wagtail.models import Page
from wagtail.models import Site as WagtailSite

from cms.models import HomePage


@transaction.atomic
def provision_site_pages(*, site, hostname: str) -> HomePage:
    """Give a freshly migrated schema its home page and bind Wagtail's Site to the domain.

    Wagtail's own migrations leave a "Welcome" page and a Site for localhost in every schema;
    they are replaced, so each schema has exactly one Site, the one answering on `hostname`.
    """
    root = Page.get_first_root_node()
    for child in root.get_children():
        if not isinstance(child.specific, HomePage):
            child.delete()
    home = HomePage.objects.first()
    if home is None:
        home = root.add_child(
            instance=HomePage(
                title=site.name,
                title_en=site.name_en,
                slug="home",
                intro="",
            )
        )
    WagtailSite.objects.exclude(hostname=hostname).delete()
    WagtailSite.objects.update_or_create(
        hostname=hostname,
        port=80,
        defaults={"root_page": home, "is_default_site": True, "site_name": site.name},
    )
    return home
