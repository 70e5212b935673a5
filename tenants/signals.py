"""Keep the per-process host -> site map honest when domains or sites change."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tenants.middleware import forget_cached_sites
from tenants.models import Domain, Site


@receiver([post_save, post_delete], sender=Domain)
@receiver([post_save, post_delete], sender=Site)
def forget_sites(**kwargs) -> None:
    forget_cached_sites()
