"""Encryption at rest for the few values that must never be readable from the database alone or appear
in workflow history: a campaign's draw secret until the reveal, and winners' shipping addresses.

AES-256-GCM with a key derived (HKDF-SHA256) from ``SOCIALOPS_SECRET_KEY`` and a purpose label, so each
kind of value has its own key; the row id is bound as associated data, so a ciphertext copied to another
row does not open. Sealed text is ``v1.<nonce hex>.<ciphertext hex>``.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr


class SealError(ValueError):
    """The sealed value is malformed, or was sealed with another key, purpose or row."""


class Sealer:
    def __init__(self, secret_key: SecretStr | str, purpose: str) -> None:
        raw = secret_key.get_secret_value() if isinstance(secret_key, SecretStr) else secret_key
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"socialops/{purpose}".encode()).derive(
            raw.encode("utf-8")
        )
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, bound_to: str) -> str:
        nonce = os.urandom(12)
        return f"v1.{nonce.hex()}.{self._aead.encrypt(nonce, plaintext, bound_to.encode()).hex()}"

    def open(self, sealed: str, bound_to: str) -> bytes:
        try:
            version, nonce, body = sealed.split(".")
            if version != "v1":
                raise SealError(f"unknown sealing version {version!r}")
            return self._aead.decrypt(bytes.fromhex(nonce), bytes.fromhex(body), bound_to.encode())
        except (ValueError, InvalidTag) as exc:
            raise SealError("cannot open sealed value (wrong key, purpose or row?)") from exc


SECRET_PURPOSE = "campaign-draw-secret"
ADDRESS_PURPOSE = "campaign-winner-address"


WEBHOOK_PURPOSE = "monitoring-webhook-secret"


def webhook_sealer(key: str) -> Sealer:
    """Seals a webhook source's signing secret (bound to ``source:{key}``)."""
    return Sealer(key, WEBHOOK_PURPOSE)


def secret_sealer(key: str) -> Sealer:
    """Seals a campaign's draw secret (bound to ``campaign:{id}``)."""
    return Sealer(key, SECRET_PURPOSE)


def address_sealer(key: str) -> Sealer:
    """Seals a winner's shipping address (bound to ``entry:{id}``)."""
    return Sealer(key, ADDRESS_PURPOSE)


CREDENTIALS_PURPOSE = "platform-account-credentials"


def credentials_sealer(key: SecretStr | str) -> Sealer:
    """Seals a platform account's app credentials and tokens (bound to ``platform-account:{id}``)."""
    return Sealer(key, CREDENTIALS_PURPOSE)
