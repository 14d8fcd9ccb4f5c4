"""Sealed values open only with the same key, purpose and row."""

from __future__ import annotations

import pytest

from core.sealing import Sealer, SealError, address_sealer, secret_sealer

KEY = "k" * 40


def test_round_trip_and_fresh_nonces() -> None:
    s = secret_sealer(KEY)
    a, b = s.seal(b"secret", "campaign:1"), s.seal(b"secret", "campaign:1")
    assert a != b and a.startswith("v1.")
    assert s.open(a, "campaign:1") == b"secret"


@pytest.mark.parametrize(
    "opener, bound",
    [
        (secret_sealer(KEY), "campaign:2"),  # copied to another row
        (address_sealer(KEY), "campaign:1"),  # another purpose
        (secret_sealer("x" * 40), "campaign:1"),  # another key
    ],
)
def test_wrong_row_purpose_or_key_fails(opener: Sealer, bound: str) -> None:
    sealed = secret_sealer(KEY).seal(b"secret", "campaign:1")
    with pytest.raises(SealError):
        opener.open(sealed, bound)


def test_tampered_or_malformed_fails() -> None:
    s = secret_sealer(KEY)
    sealed = s.seal(b"secret", "campaign:1")
    flipped = sealed[:-1] + ("0" if sealed[-1] != "0" else "1")
    for bad in (flipped, "v2." + sealed[3:], "garbage"):
        with pytest.raises(SealError):
            s.open(bad, "campaign:1")
