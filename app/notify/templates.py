"""Message kinds and their WeChat subscribe templates.

Features register the kinds they send (in their own ``notifications.py``), so
notify knows no feature. A kind says how to title the inbox message and how to
fill the WeChat template's fields from the payload. Real template ids differ per
mini-program: ``WECHAT_TEMPLATES`` (JSON ``{"kind": "template-id"}``) overrides them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

# WeChat's value limits by field-name prefix (characters).
LIMITS = {
    "thing": 20,
    "name": 10,
    "phrase": 5,
    "number": 32,
    "character_string": 32,
    "letter": 32,
    "symbol": 5,
    "phone_number": 17,
    "car_number": 8,
    "amount": 32,
}


@dataclass(frozen=True)
class Template:
    kind: str
    title: str  # shown in the app's "allow notifications" prompt and as the inbox title
    template_id: str
    page: str
    fields: dict = field(default_factory=dict)  # WeChat key → payload key, e.g. {"thing1": "title"}
    audience: str = "resident"  # resident | staff (staff get the inbox only)


_REGISTRY: dict[str, Template] = {}


def register(
    kind: str,
    *,
    title: str,
    template_id: str = "",
    page: str = "pages/index/index",
    fields: dict | None = None,
    audience: str = "resident",
) -> Template:
    template = Template(kind, title, template_id or f"tmpl-{kind}", page, fields or {}, audience)
    _REGISTRY[kind] = template
    return template


def get(kind: str) -> Template:
    template = _REGISTRY[kind]
    override = _overrides().get(kind)
    if override:
        return Template(template.kind, template.title, override, template.page, template.fields, template.audience)
    return template


def all_templates() -> list[Template]:
    return [get(kind) for kind in sorted(_REGISTRY)]


def _overrides() -> dict:
    return current_app.config.get("WECHAT_TEMPLATES") or {}


def cut(key: str, value) -> str:
    """Trim a value to WeChat's limit for its key so a long name never causes 47003."""
    text = "" if value is None else str(value)
    prefix = key.rstrip("0123456789")
    limit = LIMITS.get(prefix)
    if limit and len(text) > limit:
        text = text[: limit - 1] + "…" if prefix == "thing" else text[:limit]
    return text


def wechat_data(template: Template, payload: dict) -> dict:
    return {key: {"value": cut(key, payload.get(source, ""))} for key, source in template.fields.items()}
