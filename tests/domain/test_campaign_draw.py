"""The draw protocol: RFC 6962 vectors, the verifier against tampering, uniformity of the picks."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from domain.campaign import draw
from domain.campaign import verify_draw as proto

CT_DATA = [bytes.fromhex(h) for h in
           ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]  # fmt: skip
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PATHS = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}  # fmt: skip


def test_merkle_roots_match_rfc6962_vectors() -> None:
    for n in range(len(CT_DATA) + 1):
        assert proto.merkle_root(CT_DATA[:n]).hex() == CT_ROOTS[n], n


def test_inclusion_paths_match_rfc6962_vectors_and_verify() -> None:
    hashes = [proto.leaf_hash(d) for d in CT_DATA]
    root = bytes.fromhex(CT_ROOTS[8])
    for (index, size), want in CT_PATHS.items():
        path = proto.inclusion_proof(hashes[:size], index)
        assert [p.hex() for p in path] == want
        assert proto.verify_inclusion(hashes[index], index, size, path, root)


def test_every_proof_verifies_and_tampering_fails() -> None:
    hashes = [proto.leaf_hash(bytes([i, i * 7 % 256])) for i in range(37)]
    for n in range(1, 38):
        tree = hashes[:n]
        root = proto.root_from_hashes(tree)
        for i in range(n):
            path = proto.inclusion_proof(tree, i)
            assert proto.verify_inclusion(tree[i], i, n, path, root)
            if n > 1:
                assert not proto.verify_inclusion(tree[i], (i + 1) % n, n, path, root)
                assert not proto.verify_inclusion(tree[(i + 1) % n], i, n, path, root)
            assert not proto.verify_inclusion(tree[i], i, n, [*path, root], root)


def _doc(n: int = 50, prizes: list[dict[str, Any]] | None = None, reserves: int = 3) -> dict[str, Any]:
    leaves = [f"weibo:user{i:03d}" for i in range(n)]
    beacon = {"source": "drand quicknet", "chain_hash": proto.DRAND_QUICKNET_CHAIN, "round": 1000,
              "round_time": proto.drand_round_time(1000), "randomness": "ab" * 32, "evidence": "https://example"}  # fmt: skip
    doc, _, _ = draw.build(
        campaign_id=7,
        secret=bytes(range(32)),
        leaves=leaves,
        beacon=beacon,
        prizes=prizes or [{"name": "一等奖", "quantity": 1}, {"name": "二等奖", "quantity": 4}],
        reserves=reserves,
    )
    return doc


def test_verifier_accepts_a_produced_draw() -> None:
    doc = _doc()
    assert proto.verify(doc) == []
    assert len(doc["winners"]) == 5 and len(doc["reserves"]) == 3
    picked = [w["index"] for w in doc["winners"] + doc["reserves"]]
    assert len(set(picked)) == len(picked)


def _tamper(doc: dict[str, Any], what: str) -> dict[str, Any]:
    bad = copy.deepcopy(doc)
    if what == "secret":
        bad["secret"] = ("ff" if bad["secret"][:2] != "ff" else "00") + bad["secret"][2:]
    elif what == "entrant":
        bad["entrants"]["leaves"][10] = "weibo:intruder"
    elif what == "n":
        bad["entrants"]["n"] += 1
    elif what == "swap":
        a, b = bad["winners"][0], bad["reserves"][0]
        for key in ("index", "entrant", "proof"):
            a[key], b[key] = b[key], a[key]
    elif what == "swap_winners":
        a, b = bad["winners"][0], bad["winners"][1]
        for key in ("index", "entrant", "proof"):
            a[key], b[key] = b[key], a[key]
    elif what == "beacon":
        bad["beacon"]["randomness"] = "cd" * 32
    return bad


@pytest.mark.parametrize("what", ["secret", "entrant", "n", "swap", "swap_winners", "beacon"])
def test_verifier_rejects_each_tampering(what: str) -> None:
    problems = proto.verify(_tamper(_doc(), what))
    assert problems, what


def test_verifier_rejects_a_changed_public_value_even_without_the_seed_field() -> None:
    bad = _tamper(_doc(), "beacon")
    del bad["seed"]
    assert any("index" in p for p in proto.verify(bad))


def test_verifier_script_exit_codes(tmp_path: Path) -> None:
    """The downloadable file runs on its own, outside the package."""
    script = tmp_path / "verify_draw.py"
    script.write_text(Path(proto.__file__).read_text(encoding="utf-8"), encoding="utf-8")
    good, bad = tmp_path / "draw.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_doc()), encoding="utf-8")
    bad.write_text(json.dumps(_tamper(_doc(), "swap")), encoding="utf-8")
    ok = subprocess.run([sys.executable, "-I", str(script), str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK")
    no = subprocess.run([sys.executable, "-I", str(script), str(bad)], capture_output=True, text=True)
    assert no.returncode == 1 and "MISMATCH" in no.stdout


def test_beacon_signature_must_hash_to_the_randomness() -> None:
    import hashlib

    sig = bytes(range(48))
    doc = _doc()
    doc["beacon"]["signature"] = sig.hex()
    assert any("signature" in p for p in proto.verify(doc))
    doc = _doc()
    doc["beacon"]["randomness"] = hashlib.sha256(sig).hexdigest()
    doc["beacon"]["signature"] = sig.hex()
    rebuilt, _, _ = draw.build(
        campaign_id=7, secret=bytes(range(32)), leaves=doc["entrants"]["leaves"], beacon=doc["beacon"],
        prizes=doc["prizes"], reserves=3,
    )  # fmt: skip
    assert proto.verify(rebuilt) == []


def test_uniform_rejection_sampling_is_unbiased_chi_square() -> None:
    """First pick over many seeds, N=7 (not a power of two): chi-square with 6 d.o.f. below 22.46 (p=0.001)."""
    n, trials = 7, 14000
    counts = [0] * n
    for s in range(trials):
        seed = proto.derive_seed(s.to_bytes(32, "big"), b"\x00" * 32, n, b"\x01" * 32)
        counts[proto.pick(seed, n, 1)[0]] += 1
    expected = trials / n
    chi2 = sum((c - expected) ** 2 / expected for c in counts)
    assert chi2 < 22.46, (chi2, counts)


def test_every_position_of_the_partial_shuffle_is_uniform() -> None:
    """Positions 0..2 of a 3-pick draw from N=5: each position chi-square (4 d.o.f.) below 18.47 (p=0.001)."""
    n, k, trials = 5, 3, 6000
    counts = [[0] * n for _ in range(k)]
    for s in range(trials):
        picks = proto.pick(s.to_bytes(8, "big") * 4, n, k)
        assert len(set(picks)) == k
        for pos, v in enumerate(picks):
            counts[pos][v] += 1
    for row in counts:
        expected = trials / n
        assert sum((c - expected) ** 2 / expected for c in row) < 18.47, row


def test_uniform_rejects_values_above_the_limit() -> None:
    bound = 3
    limit = (1 << 64) - ((1 << 64) % bound)
    assert proto.uniform(iter([limit, limit + 1, 5]), bound) == 5 % bound


def test_drand_round_arithmetic() -> None:
    g = proto.DRAND_QUICKNET_GENESIS
    assert proto.drand_round_at(g) == 1
    assert proto.drand_round_at(g + 3) == 2
    assert proto.drand_round_at(g + 4) == 3
    assert proto.drand_round_time(proto.drand_round_at(g + 1000)) >= g + 1000


def test_cli_verify(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from core.cli import app

    good, bad = tmp_path / "draw.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_doc()), encoding="utf-8")
    bad.write_text(json.dumps(_tamper(_doc(), "secret")), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["campaigns", "verify", str(good)]).exit_code == 0
    result = runner.invoke(app, ["campaigns", "verify", str(bad)])
    assert result.exit_code == 1 and "commitment" in result.output


def test_the_verifier_is_standard_library_only_and_parses_as_python_3_9() -> None:
    import ast

    source = Path(proto.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 9))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
