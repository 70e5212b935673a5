"""A proof-of-work stamp for the public form, with no third-party service.

The form carries a signed challenge; a browser with JavaScript finds a nonce such that
sha256(challenge + ":" + nonce) starts with DIFFICULTY zero bits (about 16,000 hashes, well
under a second, done while the person types). A valid, unused stamp lifts the per-address
limit (a ward's shared Wi-Fi is one address for many people); a bot flooding the form pays for
every submission. Without JavaScript the form still works under the ordinary limits.
"""

import hashlib
import secrets

from django.core import signing
from django.core.cache import cache

DIFFICULTY = 14
MAX_AGE = 3600
_SALT = "carefront.form-pow"


def new_challenge() -> str:
    return signing.dumps(secrets.token_hex(8), salt=_SALT)


def _leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + (8 - byte.bit_length())
    return bits


def stamp_is_valid(challenge: str, nonce: str) -> bool:
    """True once per challenge, for a fresh challenge of ours with a nonce that does the work."""
    if not challenge or not nonce or len(nonce) > 32:
        return False
    try:
        signing.loads(challenge, salt=_SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        return False
    digest = hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()
    if _leading_zero_bits(digest) < DIFFICULTY:
        return False
    # Each stamp pays for one submission only.
    return cache.add(f"pow:{hashlib.sha256(challenge.encode()).hexdigest()}", 1, MAX_AGE)
