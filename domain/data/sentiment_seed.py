"""Team-written sentiment examples for the domains the system sees most: hotels, food delivery, service,
products and social posts. Labels are ours (1 positive, 0 negative); sentences are generated from the
aspect and opinion phrases below, so the training set reproducibly covers these domains' vocabulary.
"""

from __future__ import annotations

import itertools
import random

ASPECTS = [
    "房间",
    "酒店",
    "前台",
    "服务",
    "早餐",
    "位置",
    "卫生",
    "床",
    "空调",
    "隔音",
    "环境",
    "设施",
    "外卖",
    "配送",
    "送餐",
    "味道",
    "分量",
    "包装",
    "价格",
    "菜品",
    "商家",
    "骑手",
    "口味",
    "饭菜",
    "客服",
    "售后",
    "物流",
    "快递",
    "质量",
    "产品",
    "手机",
    "耳机",
    "衣服",
    "做工",
    "性价比",
    "体验",
]
POSITIVE = [
    "很好",
    "不错",
    "挺好的",
    "非常干净",
    "很热情",
    "很好吃",
    "很实惠",
    "很快",
    "很满意",
    "值得推荐",
    "超出预期",
    "很贴心",
    "很周到",
    "很舒服",
    "很新鲜",
    "很给力",
    "没得说",
    "棒棒的",
    "很划算",
    "很专业",
]
NEGATIVE = [
    "太差了",
    "很脏",
    "很冷淡",
    "很难吃",
    "太贵了",
    "太慢了",
    "很失望",
    "不推荐",
    "很一般",
    "有异味",
    "坏了",
    "很敷衍",
    "态度恶劣",
    "不新鲜",
    "太少了",
    "很吵",
    "不干净",
    "有问题",
    "不值这个价",
    "一塌糊涂",
]
POS_ENDINGS = ["，下次还会再来", "，好评", "，推荐大家", "！", "，五星", "，会回购的", "，很开心", ""]
NEG_ENDINGS = ["，再也不来了", "，差评", "，不会再买了", "！", "，一星都不想给", "，后悔了", "，太糟心了", ""]
POS_SENTENCES = [
    "总体来说非常满意",
    "物超所值",
    "服务态度特别好",
    "老板人很好",
    "送餐速度快，饭还是热的",
    "干净整洁，交通方便",
    "下次出差还住这里",
    "味道正宗，分量十足",
    "客服耐心解答了我的问题",
    "包装精美，质量很好",
    "感谢商家的用心",
]
NEG_SENTENCES = [
    "等了两个小时还没送到",
    "房间有蟑螂",
    "客服一直不回复",
    "收到的东西是坏的",
    "根本不是图片上的样子",
    "退款到现在还没到账",
    "隔壁吵了一晚上",
    "饭菜是凉的",
    "被坑了",
    "再也不会相信这家了",
    "投诉了也没人管",
]


def examples(seed: int = 20261126) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    out: list[tuple[int, str]] = []
    for aspect, opinion in itertools.product(ASPECTS, POSITIVE):
        out.append((1, f"{aspect}{opinion}{rng.choice(POS_ENDINGS)}"))
    for aspect, opinion in itertools.product(ASPECTS, NEGATIVE):
        out.append((0, f"{aspect}{opinion}{rng.choice(NEG_ENDINGS)}"))
    for _ in range(600):
        a, b = rng.sample(ASPECTS, 2)
        out.append((1, f"{a}{rng.choice(POSITIVE)}，{b}{rng.choice(POSITIVE)}，{rng.choice(POS_SENTENCES)}"))
        out.append((0, f"{a}{rng.choice(NEGATIVE)}，{b}{rng.choice(NEGATIVE)}，{rng.choice(NEG_SENTENCES)}"))
        # Mixed but leaning: a complaint outweighs a small compliment, and the other way round.
        out.append((0, f"{a}还行，但是{b}{rng.choice(NEGATIVE)}，{rng.choice(NEG_SENTENCES)}"))
        out.append((1, f"虽然{a}一般，但{b}{rng.choice(POSITIVE)}，{rng.choice(POS_SENTENCES)}"))
    out += [(1, s) for s in POS_SENTENCES] + [(0, s) for s in NEG_SENTENCES]
    return out
