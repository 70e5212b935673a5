"""Write a site's whole record to one archive (docs/site-export.md).

manage.py export_site north-hospital [--out north.zip]
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tenants.export import export_site
from tenants.models import Site


class Command(BaseCommand):
    help = "Export a site: every case, timeline, attachment, configuration and page."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--out", default=None, help="default: VAR_DIR/exports/<slug>-…zip")

    def handle(self, *args, **options):
        site = Site.objects.filter(slug=options["slug"]).first()
        if site is None:
            raise CommandError(f"No site with slug {options['slug']!r}.")
        out = export_site(site=site, out=Path(options["out"]) if options["out"] else None)
        self.stdout.write(str(out))
