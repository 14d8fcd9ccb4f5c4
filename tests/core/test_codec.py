"""The payload codec: AES-256-GCM round trip, key rotation, passthrough of plain payloads, key parsing."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadDecryptError,
    PayloadKeyError,
    codec_from_spec,
    new_key_spec,
    parse_payload_keys,
)
from core.registry import WORKFLOWS
from core.settings import Settings, SettingsError, load_settings
from core.temporal import data_converter
from domain.system import SystemCheckInput

SECRET = "客户王小明，手机 13800138000"
HISTORIES = sorted((Path(__file__).parents[1] / "histories").glob("*.json"))


def plain(text: str = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


def codec(spec: str) -> EncryptionCodec:
    c = codec_from_spec(spec)
    assert c is not None
    return c


async def test_round_trip_hides_the_plaintext_and_restores_it_exactly() -> None:
    spec = new_key_spec("k1")
    c = codec(spec)
    original = plain()
    (sealed,) = await c.encode([original])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID_METADATA] == b"k1"
    assert SECRET.encode() not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()  # the inner metadata is sealed too
    (again,) = await c.encode([original])
    assert again.data != sealed.data  # a fresh nonce each time
    assert await c.decode([sealed]) == [original]


async def test_rotation_new_key_encrypts_old_keys_still_decrypt() -> None:
    old, new = new_key_spec("old"), new_key_spec("new")
    (by_old,) = await codec(old).encode([plain("旧密钥")])
    rotated = codec(f"{new},{old}")
    assert rotated.encrypting_key_id == "new" and rotated.key_ids == ["new", "old"]
    (by_new,) = await rotated.encode([plain("新密钥")])
    assert by_new.metadata[KEY_ID_METADATA] == b"new"
    assert await rotated.decode([by_old, by_new]) == [plain("旧密钥"), plain("新密钥")]
    with pytest.raises(PayloadDecryptError, match=r"'new'.*not in SOCIALOPS_PAYLOAD_KEYS"):
        await codec(old).decode([by_new])  # a worker that lacks the new key says which one is missing


async def test_payloads_without_encryption_metadata_pass_through() -> None:
    c = codec(new_key_spec("k1"))
    unencrypted = [plain(), Payload(metadata={"encoding": b"binary/null"}), Payload()]
    assert await c.decode(unencrypted) == unencrypted


async def test_tampered_or_wrong_key_ciphertext_is_refused() -> None:
    spec = new_key_spec("k1")
    (sealed,) = await codec(spec).encode([plain()])
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptError, match="does not open"):
        await codec(spec).decode([tampered])
    with pytest.raises(PayloadDecryptError, match="does not open"):
        await codec(new_key_spec("k1")).decode([sealed])  # same id, other key material


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("k1", "not 'keyid:base64key'"),
        ("k1:not base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "must be 32 bytes"),
        ("bad id:" + base64.b64encode(bytes(32)).decode(), "key id must be"),
    ],
)
def test_bad_key_specs_are_named_without_key_material(spec: str, message: str) -> None:
    with pytest.raises(PayloadKeyError, match=message):
        parse_payload_keys(spec)
    with pytest.raises(SettingsError) as err:
        load_settings(payload_keys=spec)
    assert "SOCIALOPS_PAYLOAD_KEYS" in str(err.value) and spec.split(":", 1)[-1] not in str(err.value)


def test_duplicate_key_ids_and_empty_spec() -> None:
    a = new_key_spec("same")
    with pytest.raises(PayloadKeyError, match="twice"):
        parse_payload_keys(f"{a},{a}")
    assert parse_payload_keys("") == [] and codec_from_spec(" , ") is None


def test_keys_never_printed() -> None:
    spec = new_key_spec("k1")
    s = Settings(payload_keys=spec)
    assert spec.split(":")[1] not in repr(s) and spec.split(":")[1] not in repr(parse_payload_keys(spec))


def test_production_needs_payload_keys() -> None:
    with pytest.raises(SettingsError, match="SOCIALOPS_PAYLOAD_KEYS"):
        load_settings(
            environment="production",
            secret_key="Q" + "7hWx2mK9pL4vN8rT3yB6cF1dG5jH0sA",
            database_url="postgresql://db/p",
        )


async def test_data_converter_encrypts_only_with_keys() -> None:
    inp = SystemCheckInput(requested_by=SECRET)
    off = data_converter(Settings())
    assert off.payload_codec is None
    (p,) = await off.encode([inp])
    assert SECRET.encode() in p.SerializeToString()

    on = data_converter(Settings(payload_keys=new_key_spec("k1")))
    (sealed,) = await on.encode([inp])
    assert SECRET.encode() not in sealed.SerializeToString()
    assert await on.decode([sealed], [SystemCheckInput]) == [inp]
    assert await on.decode([p], [SystemCheckInput]) == [inp]  # a plain payload from before still reads


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_plain_histories_replay_with_the_codec_on(path: Path) -> None:
    """Switching encryption on must not break workflows already running: their history is plain."""
    history = WorkflowHistory.from_json(path.stem, path.read_text())  # noqa: ASYNC240
    converter = data_converter(Settings(payload_keys=new_key_spec("k1")))
    result = await Replayer(workflows=WORKFLOWS, data_converter=converter).replay_workflow(
        history, raise_on_replay_failure=True
    )
    assert result.replay_failure is None
