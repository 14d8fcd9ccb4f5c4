"""The draw as socialops runs it, on top of the one protocol definition in ``verify_draw.py``.

``verify_draw.py`` is standard-library only and is what participants download; everything here calls
it, so the draw and its verifier cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.campaign import verify_draw as proto
from domain.campaign.models import CampaignPlan


def tag(campaign_id: int) -> str:
    return f"socialops/campaign/{campaign_id}"


def commitment_hex(campaign_id: int, secret: bytes) -> str:
    return proto.commitment(tag(campaign_id), secret).hex()


def beacon_round(draw_at: datetime) -> int:
    """The drand quicknet round named in advance: the first one at or after the draw time."""
    return proto.drand_round_at(draw_at.timestamp())


def commitment_line(campaign_id: int, commitment: str, round_number: int, plan: CampaignPlan) -> str:
    """The draw commitment as it appears in the launch post."""
    when = datetime.fromtimestamp(proto.drand_round_time(round_number), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"【开奖承诺】本次抽奖承诺值 SHA-256 = {commitment}（活动标识 {tag(campaign_id)}）。"
        f"截止后公布参与名单的默克尔根；开奖使用 drand quicknet 第 {round_number} 轮公开随机数（{when} 产生），"
        f"结果及 draw.json 公开，任何人可用公开的校验程序复算。"
    )


def build(
    *,
    campaign_id: int,
    secret: bytes,
    leaves: list[str],
    beacon: dict[str, Any],
    prizes: list[dict[str, Any]],
    reserves: int,
) -> tuple[dict[str, Any], list[int], list[int]]:
    """draw.json and the picked positions (winners, then reserves) in the frozen list."""
    data = [leaf.encode("utf-8") for leaf in leaves]
    hashes = [proto.leaf_hash(d) for d in data]
    root = proto.root_from_hashes(hashes)
    n = len(leaves)
    public_value = bytes.fromhex(beacon["randomness"])
    seed = proto.derive_seed(secret, root, n, public_value)
    slots = [str(p["name"]) for p in prizes for _ in range(int(p["quantity"]))]
    picks = proto.pick(seed, n, len(slots) + reserves) if n else []
    winners, extra = picks[: len(slots)], picks[len(slots) :]

    def entry(rank: int, index: int, prize: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"rank": rank + 1, "index": index, "entrant": leaves[index]}
        if prize is not None:
            out["prize"] = prize
        out["proof"] = [p.hex() for p in proto.inclusion_proof(hashes, index)]
        return out

    doc: dict[str, Any] = {
        "protocol": proto.PROTOCOL,
        "campaign_id": campaign_id,
        "tag": tag(campaign_id),
        "commitment": proto.commitment(tag(campaign_id), secret).hex(),
        "secret": secret.hex(),
        "beacon": beacon,
        "entrants": {"n": n, "root": root.hex(), "leaves": leaves},
        "prizes": prizes,
        "seed": seed.hex(),
        "winners": [entry(r, i, slots[r]) for r, i in enumerate(winners)],
        "reserves": [entry(len(winners) + r, i, None) for r, i in enumerate(extra)],
    }
    return doc, winners, extra


def mask(leaf: str) -> str:
    """A winner as the results statement shows them: platform and a partly hidden handle."""
    platform, _, user = leaf.partition(":")
    if len(user) <= 2:
        shown = user[:1] + "*"
    else:
        shown = user[:1] + "*" * (len(user) - 2) + user[-1:]
    return f"{platform}:{shown}"


def results_text(plan: CampaignPlan, winners: list[tuple[str, str]], root: str, n: int, round_number: int) -> str:
    lines = [
        f"【{plan.title}】中奖结果公布",
        f"有效参与 {n} 人，名单默克尔根 {root}，drand 第 {round_number} 轮。",
    ]
    lines += [f"{prize}：{mask(leaf)}" for prize, leaf in winners]
    lines.append(f"请中奖者在 {plan.address_days} 天内私信提供收货信息，逾期视为放弃，由候补中奖者递补。")
    lines.append("完整 draw.json 与校验程序已公开，可自行复算。")
    return "\n".join(lines)
