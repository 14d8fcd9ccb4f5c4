#!/usr/bin/env python3
"""Verify a socialops prize draw (``draw.json``) — one file, Python 3.9+ standard library only.

Download this file and run ``python3 verify_draw.py draw.json``: it recomputes everything the draw
published and exits 0 only if every check passes (1 on any mismatch, 2 if the file cannot be read).
socialops itself draws with the functions below (``socialops campaigns verify`` runs this same code), so
there is exactly one definition of the protocol.

Protocol ``socialops-draw/v1`` ("commit – freeze – beacon – reveal"):

1. Commit (at launch): a 32-byte random ``secret`` stays with the organiser; the campaign post publishes
   ``commitment = SHA-256(tag || "|" || secret)`` (tag in UTF-8) and names a public random value fixed in
   advance: a drand quicknet round whose time is after the entry close.
2. Freeze (at close): the eligible entrants, in entry order, are the leaves ``UTF-8("platform:user")``
   of an RFC 6962 Merkle tree (leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right), the
   left subtree holding the largest power of two below n). ``N`` and the root are published; every
   entrant can get an inclusion proof (RFC 6962 / RFC 9162 audit path).
3. Beacon: once the named round exists, its randomness (32 bytes, = SHA-256 of the round's signature)
   is the public value.
4. Reveal: ``seed = SHA-256("socialops/draw/v1" || secret || root || N as 8 bytes big-endian ||
   public value)``. The stream is ``SHA-256(seed || i as 8 bytes big-endian)`` for i = 0, 1, …, read
   as consecutive 8-byte big-endian unsigned integers. ``uniform(m)`` takes the next integer x, rejects
   it while x ≥ 2^64 − (2^64 mod m), and returns x mod m. Picks: a partial Fisher–Yates shuffle of
   [0, N): for i = 0 … k−1, j = i + uniform(N − i), swap positions i and j; pick i is position i.
   The first picks fill the prizes in the order listed (each prize ``quantity`` times); the reserve
   winners are the next picks of the same stream.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any

PROTOCOL = "socialops-draw/v1"
SEED_DOMAIN = b"socialops/draw/v1"
DRAND_QUICKNET_CHAIN = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
DRAND_QUICKNET_GENESIS = 1692803367  # Unix seconds
DRAND_QUICKNET_PERIOD = 3  # seconds


# --- RFC 6962 Merkle tree -------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n ≥ 2)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root_from_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes (RFC 6962 §2.1); the empty tree is SHA-256 of nothing."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = _split(n)
    return node_hash(root_from_hashes(hashes[:k]), root_from_hashes(hashes[k:]))


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    return root_from_hashes([leaf_hash(d) for d in leaves])


def inclusion_proof(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1 over leaf hashes, nearest sibling first."""
    n = len(hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} outside a tree of {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(hashes[:k], index), root_from_hashes(hashes[k:])]
    return [*inclusion_proof(hashes[k:], index - k), root_from_hashes(hashes[:k])]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` put leaf hash ``leaf`` at ``index`` of a tree of ``size``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# --- commitment, seed, stream, picks -----------------------------------------------------------------


def commitment(tag: str, secret: bytes) -> bytes:
    return hashlib.sha256(tag.encode("utf-8") + b"|" + secret).digest()


def derive_seed(secret: bytes, root: bytes, n: int, public_value: bytes) -> bytes:
    return hashlib.sha256(SEED_DOMAIN + secret + root + n.to_bytes(8, "big") + public_value).digest()


def stream(seed: bytes) -> Iterator[int]:
    """SHA-256 in counter mode, as 64-bit big-endian unsigned integers."""
    counter = 0
    while True:
        block = hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        for i in range(0, 32, 8):
            yield int.from_bytes(block[i : i + 8], "big")
        counter += 1


def uniform(numbers: Iterator[int], bound: int) -> int:
    """An unbiased integer in [0, bound) by rejection sampling."""
    if bound <= 0:
        raise ValueError("bound must be positive")
    limit = (1 << 64) - ((1 << 64) % bound)
    while True:
        x = next(numbers)
        if x < limit:
            return x % bound


def pick(seed: bytes, n: int, k: int) -> list[int]:
    """The first ``k`` positions of a partial Fisher–Yates shuffle of range(n) (k capped at n)."""
    numbers = stream(seed)
    moved: dict[int, int] = {}  # a sparse view of the array: only swapped positions are stored
    out: list[int] = []
    for i in range(min(k, n)):
        j = i + uniform(numbers, n - i)
        vi, vj = moved.get(i, i), moved.get(j, j)
        moved[i], moved[j] = vj, vi
        out.append(vj)
    return out


def drand_round_at(unix_seconds: float) -> int:
    """The first quicknet round emitted at or after ``unix_seconds``."""
    if unix_seconds <= DRAND_QUICKNET_GENESIS:
        return 1
    elapsed = unix_seconds - DRAND_QUICKNET_GENESIS
    rounds = int(elapsed // DRAND_QUICKNET_PERIOD)
    if rounds * DRAND_QUICKNET_PERIOD < elapsed:
        rounds += 1
    return rounds + 1


def drand_round_time(round_number: int) -> int:
    return DRAND_QUICKNET_GENESIS + (round_number - 1) * DRAND_QUICKNET_PERIOD


# --- draw.json --------------------------------------------------------------------------------------


def _hex(value: Any, what: str, size: int | None = 32) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"{what} is not hex") from None
    if size is not None and len(raw) != size:
        raise ValueError(f"{what} is {len(raw)} bytes, expected {size}")
    return raw


def verify(doc: dict[str, Any]) -> list[str]:
    """Every problem found in a draw document; an empty list means the draw checks out."""
    problems: list[str] = []
    try:
        if doc.get("protocol") != PROTOCOL:
            return [f"protocol is {doc.get('protocol')!r}, this verifier checks {PROTOCOL!r}"]
        tag = doc["tag"]
        secret = _hex(doc["secret"], "secret")
        committed = _hex(doc["commitment"], "commitment")
        entrants = doc["entrants"]
        leaves = [str(e).encode("utf-8") for e in entrants["leaves"]]
        n = int(entrants["n"])
        root = _hex(entrants["root"], "entrants.root")
        beacon = doc["beacon"]
        public_value = _hex(beacon["randomness"], "beacon.randomness")
        prizes = doc["prizes"]
        winners = doc["winners"]
        reserves = doc.get("reserves", [])
    except (KeyError, TypeError, ValueError) as exc:
        return [f"malformed draw document: {exc}"]

    if commitment(tag, secret) != committed:
        problems.append("secret does not match the commitment published at launch")
    if n != len(leaves):
        problems.append(f"N is {n} but {len(leaves)} entrants are listed")
    hashes = [leaf_hash(d) for d in leaves]
    if root_from_hashes(hashes) != root:
        problems.append("the entrant list does not hash to the published Merkle root")
    signature = beacon.get("signature")
    if signature:
        try:
            if hashlib.sha256(_hex(signature, "beacon.signature", None)).digest() != public_value:
                problems.append("beacon randomness is not SHA-256 of the beacon signature")
        except ValueError as exc:
            problems.append(str(exc))
    if beacon.get("round_time") is not None and beacon.get("round") is not None:
        if drand_round_time(int(beacon["round"])) != int(beacon["round_time"]):
            problems.append("beacon round_time does not match the quicknet round")

    seed = derive_seed(secret, root, n, public_value)
    if doc.get("seed") is not None and doc["seed"] != seed.hex():
        problems.append("seed does not follow from secret, root, N and the public value")
    slots = [str(p["name"]) for p in prizes for _ in range(int(p["quantity"]))]
    expected = pick(seed, n, len(slots) + len(reserves)) if n else []
    listed = [("winner", w) for w in winners] + [("reserve", r) for r in reserves]
    if len(winners) != min(len(slots), n):
        problems.append(f"{len(winners)} winners listed, the prizes and N call for {min(len(slots), n)}")
    for rank, (kind, entry) in enumerate(listed):
        label = f"{kind} {rank + 1}"
        try:
            index = int(entry["index"])
            proof = [_hex(p, f"{label} proof") for p in entry.get("proof", [])]
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{label}: malformed ({exc})")
            continue
        if rank >= len(expected) or expected[rank] != index:
            want = expected[rank] if rank < len(expected) else "none"
            problems.append(f"{label}: index {index}, the draw gives {want}")
        if kind == "winner" and rank < len(slots) and entry.get("prize") != slots[rank]:
            problems.append(f"{label}: prize {entry.get('prize')!r}, the order of prizes gives {slots[rank]!r}")
        if not 0 <= index < len(leaves):
            problems.append(f"{label}: index {index} is not in the entrant list")
            continue
        if entry.get("entrant") != entrants["leaves"][index]:
            problems.append(f"{label}: entrant {entry.get('entrant')!r} is not entrant {index}")
        if not verify_inclusion(leaf_hash(leaves[index]), index, n, proof, root):
            problems.append(f"{label}: inclusion proof does not lead to the root")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: verify_draw.py draw.json", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        print(f"cannot read {args[0]}: {exc}", file=sys.stderr)
        return 2
    problems = verify(doc) if isinstance(doc, dict) else ["the document is not a JSON object"]
    if problems:
        for p in problems:
            print(f"MISMATCH: {p}")
        return 1
    print(
        f"OK: {len(doc['winners'])} winners and {len(doc.get('reserves', []))} reserves of "
        f"N={doc['entrants']['n']} follow from the committed secret, root {doc['entrants']['root'][:16]}… "
        f"and beacon round {doc['beacon'].get('round')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
