"""Rate limits of the public form, per client address and per site.

Counted in the cache (Redis in production, so every web process shares the counts; keys carry
the site's schema through django-tenants' key function). A submission over the limit is not
stored and not thrown away either: the form comes back with everything typed in it, a note to
send it again in a moment, and the hotline numbers.
"""

import time

from django.conf import settings
from django.core.cache import cache


def _parse(rule: str) -> tuple[int, int]:
    count, seconds = rule.split("/")
    return int(count), int(seconds)


def client_address(request) -> str:
    # Behind the proxy, the last hop it appended is the one a client cannot forge.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.TRUST_X_FORWARDED_FOR and forwarded:
        return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


def _hit(key: str, rule: str) -> bool:
    """Count one hit; True while under the limit."""
    limit, window = _parse(rule)
    bucket = f"throttle:{key}:{int(time.time() // window)}"
    cache.add(bucket, 0, timeout=window + 1)
    try:
        count = cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.set(bucket, 1, timeout=window + 1)
        count = 1
    return count <= limit


def allow_submission(request) -> bool:
    """Under the site's limit, and under the address's limit unless the browser paid a
    proof-of-work stamp (cms/pow.py)."""
    from cms.pow import stamp_is_valid

    stamped = stamp_is_valid(
        request.POST.get("pow_challenge", ""), request.POST.get("pow_nonce", "")
    )
    if not stamped and not _hit(
        f"ip:{client_address(request)}", settings.PUBLIC_FORM_LIMIT_PER_ADDRESS
    ):
        return False
    return _hit("site", settings.PUBLIC_FORM_LIMIT_PER_SITE)
