"""Synthetic but realistic-looking Chinese social posts and a large keyword list, reproducible by seed."""

from __future__ import annotations

import random

COMMON = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后"
    "多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由"
    "其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月"
    "公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理世车"
)
TEMPLATES = [
    "今天用了{k}，{a}，{b}",
    "{a}，听说{k}又出新品了，{b}",
    "有没有人知道{k}怎么样？{a}",
    "{k}的客服{b}，{a}",
    "转发：{a}{k}{b}",
]
OPINIONS = [
    "体验很好",
    "感觉一般",
    "太失望了",
    "物流很快",
    "价格有点贵",
    "质量不错",
    "再也不买了",
    "推荐大家试试",
    "包装很用心",
    "客服态度差",
]


def keywords(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(COMMON) for _ in range(rng.randint(2, 4))))
    return sorted(out)


def texts(n: int, kws: list[str], seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        filler = "".join(rng.choice(COMMON) for _ in range(rng.randint(10, 60)))
        out.append(
            rng.choice(TEMPLATES).format(
                k=rng.choice(kws) if rng.random() < 0.3 else "恒星科技",
                a=rng.choice(OPINIONS),
                b=rng.choice(OPINIONS),
            )
            + filler
        )
    return out
