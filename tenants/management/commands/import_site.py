"""Open a fresh site from an archive written by `export_site` (docs/site-export.md).

manage.py import_site north.zip --firm huaxin --slug north-hospital [--region east]
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.export import import_site
from tenants.models import Firm, Region


class Command(BaseCommand):
    help = "Import a site archive into a new site."

    def add_arguments(self, parser):
        parser.add_argument("archive")
        parser.add_argument("--firm", required=True)
        parser.add_argument("--slug", required=True)
        parser.add_argument("--region", default=None)
        parser.add_argument("--domain", default=None)

    def handle(self, *args, **options):
        firm = Firm.objects.filter(slug=options["firm"]).first()
        if firm is None:
            raise CommandError(f"No firm with slug {options['firm']!r}.")
        region = None
        if options["region"]:
            region = Region.objects.filter(firm=firm, slug=options["region"]).first()
            if region is None:
                raise CommandError(f"No region {options['region']!r} in firm {firm.slug!r}.")
        try:
            site = import_site(
                archive=options["archive"],
                firm=firm,
                slug=options["slug"],
                region=region,
                domain=options["domain"],
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from error
        self.stdout.write(f"{site.slug}: {site.url}")
