"""Workflow payload encryption: a Temporal payload codec with AES-256-GCM and rotatable keys.

Everything the SDK sends to Temporal (workflow and activity inputs and results, signals, updates, queries,
memos, and with :func:`core.temporal.data_converter` failure messages too) passes through
:meth:`EncryptionCodec.encode` on the way out and :meth:`EncryptionCodec.decode` on the way in, so the
server's database and its history exports hold ciphertext only. Search attributes are never encoded (the
server indexes them): they carry stages, roles and platforms, no personal data.

Keys come from ``SOCIALOPS_PAYLOAD_KEYS`` as ``keyid:base64key,keyid:base64key,…`` (32-byte keys,
``socialops temporal new-key`` makes one). The **first** key encrypts; **every** key decrypts, so rotation is:
put the new key first, keep the old ones until no open history still holds their ciphertext (the namespace's
retention after the last workflow that used them closed), then drop them. A payload without our encoding
metadata passes through unchanged: histories written before encryption was switched on still replay.

The wire format follows Temporal's samples-python ``encryption`` sample (``encoding: binary/encrypted``, an
``encryption-key-id`` entry, 12-byte nonce ‖ ciphertext), with the key id bound as associated data.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
_NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class PayloadKeyError(ValueError):
    """``SOCIALOPS_PAYLOAD_KEYS`` is malformed. The message never contains key material."""


class PayloadDecryptError(ValueError):
    """An encrypted payload names a key we do not hold, or does not open with it (tampered or wrong key)."""


@dataclass(frozen=True)
class PayloadKey:
    key_id: str
    key: bytes

    def __repr__(self) -> str:  # never print key material
        return f"PayloadKey({self.key_id!r})"


def parse_payload_keys(spec: str) -> list[PayloadKey]:
    """``keyid:base64key,…`` → keys, the encrypting one first. Empty → no keys (encryption off)."""
    keys: list[PayloadKey] = []
    for n, entry in enumerate((e.strip() for e in spec.split(",")), start=1):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep:
            raise PayloadKeyError(f"entry {n} is not 'keyid:base64key'")
        if not _KEY_ID.match(key_id):
            raise PayloadKeyError(f"entry {n}: the key id must be 1-64 of A-Z a-z 0-9 . _ -")
        try:
            raw = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise PayloadKeyError(f"key {key_id!r}: not valid base64") from None
        if len(raw) != 32:
            raise PayloadKeyError(f"key {key_id!r}: must be 32 bytes (AES-256), got {len(raw)}")
        if any(k.key_id == key_id for k in keys):
            raise PayloadKeyError(f"key id {key_id!r} appears twice")
        keys.append(PayloadKey(key_id, raw))
    return keys


def new_key_spec(key_id: str | None = None) -> str:
    """A fresh ``keyid:base64key`` entry for ``SOCIALOPS_PAYLOAD_KEYS``."""
    key_id = key_id or f"k{secrets.token_hex(4)}"
    if not _KEY_ID.match(key_id):
        raise PayloadKeyError("the key id must be 1-64 of A-Z a-z 0-9 . _ -")
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over the whole serialized payload (its metadata included), first key encrypts."""

    def __init__(self, keys: Sequence[PayloadKey]) -> None:
        if not keys:
            raise PayloadKeyError("at least one key is needed")
        self._encrypting = keys[0]
        self._aeads = {k.key_id: AESGCM(k.key) for k in keys}

    @property
    def encrypting_key_id(self) -> str:
        return self._encrypting.key_id

    @property
    def key_ids(self) -> list[str]:
        return list(self._aeads)

    async def encode(self, payloads: Iterable[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Iterable[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._encrypting.key_id
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[key_id].encrypt(nonce, payload.SerializeToString(), _aad(key_id))
        return Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if not is_encrypted(payload):
            return payload  # written before encryption was on, or by a client without keys
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
        aead = self._aeads.get(key_id)
        if aead is None:
            raise PayloadDecryptError(
                f"payload encrypted with key {key_id!r}, which is not in SOCIALOPS_PAYLOAD_KEYS "
                f"(held: {', '.join(self._aeads)})"
            )
        data = payload.data
        try:
            plain = aead.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], _aad(key_id))
        except InvalidTag:
            raise PayloadDecryptError(
                f"payload does not open with key {key_id!r} (tampered or wrong key)"
            ) from None
        return Payload.FromString(plain)


def _aad(key_id: str) -> bytes:
    return b"socialops-payload/" + key_id.encode()


def codec_from_spec(spec: str) -> EncryptionCodec | None:
    keys = parse_payload_keys(spec)
    return EncryptionCodec(keys) if keys else None
