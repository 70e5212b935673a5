"""Open a hospital or care home from the command line (the same service as the firm console).

    manage.py onboard_site --firm huaxin --slug north-hospital --name 北院区 \
        --name-en "North Campus" --kind hospital --template hospital_property \
        --region east --time-zone Asia/Shanghai --languages zh-hans,en \
        --admin-email admin@north.example [--domain complaints.north.example]
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.models import Firm, Region
from tenants.services import create_site


class Command(BaseCommand):
    help = "Open a site: schema, configuration from a template, pages, domain, first admin."

    def add_arguments(self, parser):
        parser.add_argument("--firm", required=True, help="the firm's slug")
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True, help="the site's Chinese name")
        parser.add_argument("--name-en", default="")
        parser.add_argument("--kind", required=True, choices=["hospital", "care_home"])
        parser.add_argument(
            "--template",
            default=None,
            help="hospital_property, care_home or patient_relations (default: by kind)",
        )
        parser.add_argument("--region", default=None, help="the region's slug")
        parser.add_argument("--domain", default=None, help="default: <slug>.<BASE_DOMAIN>")
        parser.add_argument("--time-zone", default="Asia/Shanghai")
        parser.add_argument("--languages", default="zh-hans,en")
        parser.add_argument("--admin-email", default="", help="the first site admin, invited")

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
            site = create_site(
                firm=firm,
                region=region,
                slug=options["slug"],
                name=options["name"],
                name_en=options["name_en"],
                kind=options["kind"],
                template=options["template"],
                domain=options["domain"],
                time_zone=options["time_zone"],
                languages=[code.strip() for code in options["languages"].split(",") if code],
                admin_email=options["admin_email"] or None,
            )
        except ValidationError as error:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
            )
            raise CommandError(problems) from error
        self.stdout.write(f"{site.slug}: {site.url}")
