"""Per-platform publishing rules (R-4.1.4) and adaptation of a version to each target.

Each number carries a source note. "doc" = the platform's documentation as summarised in
shared/reference/platform-apis.md; "assumed" = not confirmed there, kept here so it can be changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.content import (
    IMAGE_FORMATS,
    VIDEO_FORMATS,
    AdaptedVariant,
    ContentFormat,
    Finding,
    Severity,
    Target,
    VersionContent,
)
from domain.kernel import Platform


@dataclass(frozen=True)
class Rule:
    value: float | int | str | bool | None
    source: str


@dataclass(frozen=True)
class PlatformRules:
    platform: Platform
    label_zh: str
    max_text_chars: Rule
    max_title_chars: Rule
    title_required: Rule
    max_images: Rule
    cover_required: Rule
    max_video_seconds: Rule
    max_video_mb: Rule
    max_image_mb: Rule
    topic_syntax: Rule  # "{t}" is replaced by the topic
    formats: Rule


RULES: dict[Platform, PlatformRules] = {
    Platform.weibo: PlatformRules(
        Platform.weibo,
        "微博",
        max_text_chars=Rule(140, "doc: statuses/share `status` ≤140 汉字 (open.weibo.com/wiki/2/statuses/share)"),
        max_title_chars=Rule(None, "doc: a status has no title"),
        title_required=Rule(False, "doc: a status has no title"),
        max_images=Rule(9, "assumed: client UI allows 9 images; statuses/share takes one `pic`"),
        cover_required=Rule(False, "doc: no cover field"),
        max_video_seconds=Rule(900, "assumed: 15 min for ordinary accounts"),
        max_video_mb=Rule(None, "assumed: not documented for the open API"),
        max_image_mb=Rule(5, "doc: pic JPEG/GIF/PNG <5 MB"),
        topic_syntax=Rule("#{t}#", "doc: Weibo topics are written #话题#"),
        formats=Rule("image_text,text,short_video,comic,live", "assumed"),
    ),
    Platform.wechat_oa: PlatformRules(
        Platform.wechat_oa,
        "微信公众号",
        max_text_chars=Rule(20000, "doc: draft/add article content <20 000 characters and <1 MB"),
        max_title_chars=Rule(64, "source code: wechatpy notes a 64-character title limit (45003)"),
        title_required=Rule(True, "doc: draft/add articles[].title"),
        max_images=Rule(None, "doc: images are inline in the article"),
        cover_required=Rule(True, "doc: draft/add requires thumb_media_id (permanent material)"),
        max_video_seconds=Rule(None, "not documented in the reference"),
        max_video_mb=Rule(10, "assumed: newer docs reportedly 10 MB mp4"),
        max_image_mb=Rule(2, "doc: image ≤2 MB (bmp/png/jpeg/jpg/gif)"),
        topic_syntax=Rule("#{t}", "assumed: hashtags are plain text in articles"),
        formats=Rule("article,image_text,text,comic", "doc: article_type news | newspic"),
    ),
    Platform.douyin: PlatformRules(
        Platform.douyin,
        "抖音",
        max_text_chars=Rule(1000, "assumed: the text length limit is unconfirmed (reference §open questions)"),
        max_title_chars=Rule(55, "assumed: title shown with the video"),
        title_required=Rule(False, "doc: create_video `text` is the title, optional"),
        max_images=Rule(35, "assumed: image posts"),
        cover_required=Rule(False, "doc: cover_tsp / custom_cover_image_url optional"),
        max_video_seconds=Rule(900, "assumed: 15 min via open platform"),
        max_video_mb=Rule(4096, "assumed: 4 GB upload"),
        max_image_mb=Rule(None, "not documented in the reference"),
        topic_syntax=Rule("#{t}", "doc: text may include #话题 and @昵称"),
        formats=Rule("short_video,live,image_text", "doc: video.create"),
    ),
    Platform.kuaishou: PlatformRules(
        Platform.kuaishou,
        "快手",
        max_text_chars=Rule(500, "assumed: caption length not documented"),
        max_title_chars=Rule(None, "doc: photo/publish has only `caption`"),
        title_required=Rule(False, "doc: photo/publish has only `caption`"),
        max_images=Rule(None, "doc: video publishing only"),
        cover_required=Rule(True, "doc: photo/publish `cover` image file required"),
        max_video_seconds=Rule(None, "doc: video limits were not found"),
        max_video_mb=Rule(None, "doc: video limits were not found"),
        max_image_mb=Rule(None, "not documented in the reference"),
        topic_syntax=Rule("#{t}", "assumed"),
        formats=Rule("short_video,live", "doc: photo/publish is a video upload"),
    ),
    Platform.website: PlatformRules(
        Platform.website,
        "官网",
        max_text_chars=Rule(None, "doc: WordPress REST has no content limit"),
        max_title_chars=Rule(200, "assumed: house style for page titles"),
        title_required=Rule(True, "doc: POST /posts title"),
        max_images=Rule(None, "doc: featured_media plus inline"),
        cover_required=Rule(False, "doc: featured_media optional"),
        max_video_seconds=Rule(None, "no limit"),
        max_video_mb=Rule(None, "no limit"),
        max_image_mb=Rule(None, "no limit"),
        topic_syntax=Rule("{t}", "doc: tags[] are separate; rendered as plain words"),
        formats=Rule("article,image_text,text,short_video,comic,live", "doc"),
    ),
}


def text_length(text: str) -> int:
    """Length as the platforms count it: a CJK character is one, two ASCII characters are one (assumed)."""
    wide = sum(1 for ch in text if ord(ch) > 0x7F)
    narrow = len(text) - wide
    return wide + (narrow + 1) // 2


def render_topics(platform: Platform, topics: list[str]) -> str:
    syntax = str(RULES[platform].topic_syntax.value)
    return " ".join(syntax.format(t=t.strip("#")) for t in topics if t.strip("#"))


def adapt(version: VersionContent, target: Target, fmt: ContentFormat) -> AdaptedVariant:
    """Produce the text that goes to one platform, and everything about it that breaks the rules."""
    rules = RULES[target.platform]
    own = version.variants.get(target.platform)
    title = (own.title if own and own.title is not None else version.title).strip()
    if rules.max_title_chars.value is None:  # the platform's post has no title field (Weibo, Kuaishou)
        title = ""
    body = (own.body if own and own.body is not None else version.body).strip()
    topics = own.topics if own and own.topics else version.topics
    if topics:
        body = f"{body} {render_topics(target.platform, topics)}".strip()
    errors: list[Finding] = []
    p = target.platform

    def err(code: str, message: str, field: str) -> None:
        errors.append(Finding(code=code, severity=Severity.blocking, message=message, field=field, platform=p))

    if fmt.value not in str(rules.formats.value).split(","):
        err("format_unsupported", f"{rules.label_zh}不支持该内容形式（{fmt.value}）", "plan.format")
    limit = rules.max_text_chars.value
    if isinstance(limit, int) and text_length(body) > limit:
        err("text_too_long", f"{rules.label_zh}正文最多 {limit} 字，当前 {text_length(body)} 字", "body")
    tlimit = rules.max_title_chars.value
    if rules.title_required.value and not title:
        err("title_required", f"{rules.label_zh}需要标题", "title")
    if isinstance(tlimit, int) and len(title) > tlimit:
        err("title_too_long", f"{rules.label_zh}标题最多 {tlimit} 字，当前 {len(title)} 字", "title")
    images = [m for m in version.media if m.kind == "image"]
    videos = [m for m in version.media if m.kind == "video"]
    max_images = rules.max_images.value
    if isinstance(max_images, int) and len(images) > max_images:
        err("too_many_images", f"{rules.label_zh}最多 {max_images} 张图片", "media")
    if rules.cover_required.value and not any(m.is_cover for m in version.media):
        err("cover_required", f"{rules.label_zh}需要封面图（media 中标记 is_cover）", "media")
    max_img_mb = rules.max_image_mb.value
    for m in images:
        if isinstance(max_img_mb, int | float) and m.size_mb is not None and m.size_mb > max_img_mb:
            err("image_too_large", f"{rules.label_zh}图片不超过 {max_img_mb} MB：{m.uri}", "media")
    max_s, max_mb = rules.max_video_seconds.value, rules.max_video_mb.value
    for m in videos:
        if isinstance(max_s, int) and m.duration_s is not None and m.duration_s > max_s:
            err("video_too_long", f"{rules.label_zh}视频不超过 {max_s} 秒：{m.uri}", "media")
        if isinstance(max_mb, int | float) and m.size_mb is not None and m.size_mb > max_mb:
            err("video_too_large", f"{rules.label_zh}视频不超过 {max_mb} MB：{m.uri}", "media")
    if fmt in VIDEO_FORMATS and not videos and fmt is not ContentFormat.live:
        err("video_missing", "视频类内容缺少视频素材", "media")
    if fmt in IMAGE_FORMATS and not images:
        err("image_missing", "图文/漫画内容缺少图片素材", "media")
    return AdaptedVariant(
        platform=p, account=target.account, title=title, body=body, media=version.media, errors=errors
    )


def rules_table() -> list[dict[str, object]]:
    """The table as data, for the API and the docs."""
    out: list[dict[str, object]] = []
    for rules in RULES.values():
        row: dict[str, object] = {"platform": rules.platform.value, "label_zh": rules.label_zh}
        for name in PlatformRules.__dataclass_fields__:
            value = getattr(rules, name)
            if isinstance(value, Rule):
                row[name] = {"value": value.value, "source": value.source}
        out.append(row)
    return out
