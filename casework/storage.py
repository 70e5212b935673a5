"""Where case files live: under PRIVATE_MEDIA_ROOT/<schema>/, never under a public URL.

Each site's files are kept apart by schema, like django-tenants' TenantFileSystemStorage, but
with no base URL: they are served only by views that check who may see the case.
"""

from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import connection
from django.utils.deconstruct import deconstructible
from django.utils.functional import cached_property


@deconstructible
class PrivateTenantStorage(FileSystemStorage):
    def __init__(self):
        super().__init__(base_url=None)

    @property
    def base_location(self):
        return str(Path(settings.PRIVATE_MEDIA_ROOT) / connection.schema_name)

    @property
    def location(self):
        return str(Path(self.base_location).resolve())

    @cached_property
    def base_url(self):
        return None

    def url(self, name):
        raise ValueError("Case files have no public URL; serve them through a checked view.")


private_storage = PrivateTenantStorage()
