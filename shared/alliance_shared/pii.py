"""Personal information (PIPL): sealed (AES-256-GCM) at rest and in events, a keyed hash for exact
lookup, masked for display. Unsealing is for the few places that must (sending an SMS, an audited
secretariat read) and its result never goes to a log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class PiiVault:
    """Seals and opens personal data with one 32-byte key (PII_ENCRYPTION_KEY, base64)."""

    def __init__(self, key_b64: str) -> None:
        key = base64.b64decode(key_b64)
        if len(key) != 32:
            raise ValueError("PII_ENCRYPTION_KEY must be 32 bytes, base64-encoded")
        self._aead = AESGCM(key)
        self._hash_key = hashlib.sha256(b"alliance-pii-lookup" + key).digest()

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        return "v1." + base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, plaintext.encode(), None)).decode()

    def open(self, sealed: str) -> str:
        if not sealed.startswith("v1."):
            raise ValueError("not a sealed value")
        raw = base64.urlsafe_b64decode(sealed[3:])
        return self._aead.decrypt(raw[:12], raw[12:], None).decode()

    def lookup_hash(self, value: str) -> str:
        """A keyed hash for exact-match lookup (unique indexes, search by ID number)."""
        return hmac.new(self._hash_key, value.strip().upper().encode(), hashlib.sha256).hexdigest()


def mask_id_number(value: str) -> str:
    """``440301199001011234`` → ``4403**********1234``."""
    return value[:4] + "*" * (len(value) - 8) + value[-4:] if len(value) > 8 else "*" * len(value)


def mask_phone(value: str) -> str:
    """``13812345678`` → ``138****5678``."""
    return value[:3] + "****" + value[-4:] if len(value) >= 7 else "*" * len(value)


def mask_email(value: str) -> str:
    """``zhang.san@bank.cn`` → ``z***@bank.cn``."""
    local, _, domain = value.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"
