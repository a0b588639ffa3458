"""Discord's payload limits, checked the way Discord checks them.

The fake server runs these on every message it is asked to create or edit and on every
interaction callback; tests can call them directly too (e.g. on a rendered embed) so that a
limit is caught by a unit test before an end-to-end test sees a 400.

Errors come back in Discord's own nested shape, the ``errors`` member of a 50035
"Invalid Form Body" response, so discord.py's ``HTTPException`` renders them exactly as it
would for the real API (``In embeds.0.description: Must be 4096 or fewer in length.``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "AUTOCOMPLETE_CHOICES_MAX",
    "BUTTON_LABEL_MAX",
    "CHOICE_NAME_MAX",
    "CHOICE_VALUE_MAX",
    "COMPONENTS_PER_ROW_MAX",
    "CONTENT_MAX",
    "CUSTOM_ID_MAX",
    "EMBEDS_MAX",
    "EMBED_AUTHOR_NAME_MAX",
    "EMBED_DESCRIPTION_MAX",
    "EMBED_FIELDS_MAX",
    "EMBED_FIELD_NAME_MAX",
    "EMBED_FIELD_VALUE_MAX",
    "EMBED_FOOTER_TEXT_MAX",
    "EMBED_TITLE_MAX",
    "EMBED_TOTAL_MAX",
    "ROWS_MAX",
    "FormErrors",
    "assert_message_ok",
    "check_autocomplete",
    "check_embeds",
    "check_interaction_callback",
    "check_message",
    "check_modal",
    "flatten_errors",
    "invalid_form_body",
    "is_empty_message",
]

# Numbers from https://discord.com/developers/docs/resources/message and .../interactions.
CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_TEXT_MAX = 2048
EMBED_AUTHOR_NAME_MAX = 256
EMBED_TOTAL_MAX = 6000  # summed over every embed of one message
ROWS_MAX = 5
COMPONENTS_PER_ROW_MAX = 5
BUTTON_LABEL_MAX = 80
CUSTOM_ID_MAX = 100
SELECT_OPTIONS_MAX = 25
SELECT_OPTION_TEXT_MAX = 100
SELECT_PLACEHOLDER_MAX = 150
AUTOCOMPLETE_CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_VALUE_MAX = 100
MODAL_TITLE_MAX = 45
TEXT_INPUT_LABEL_MAX = 45

_ALLOWED_MENTION_PARSE = {"users", "roles", "everyone"}
_BUTTON = 2
_ACTION_ROW = 1
_SELECTS = {3, 5, 6, 7, 8}
_TEXT_INPUT = 4
_LINK_STYLE = 5
_PREMIUM_STYLE = 6
_IS_COMPONENTS_V2 = 1 << 15


class FormErrors:
    """Collects errors into Discord's ``{"a": {"0": {"b": {"_errors": [...]}}}}`` tree."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: Sequence[str | int], value: Any, limit: int) -> None:
        """Flag a string or array longer than ``limit`` (Discord uses one code for both)."""
        if value is not None and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def __bool__(self) -> bool:
        return bool(self.tree)


def invalid_form_body(errors: Mapping[str, Any]) -> dict[str, Any]:
    """The full 400 body Discord sends for a payload that breaks a limit."""
    return {"code": 50035, "message": "Invalid Form Body", "errors": dict(errors)}


def flatten_errors(errors: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"embeds.0.title": "Must be 256 or fewer in length."}`` — same keys as discord.py."""
    flat: dict[str, str] = {}
    for key, value in errors.items():
        path = f"{prefix}.{key}" if prefix else key
        if key == "_errors":
            flat[prefix] = " ".join(e.get("message", "") for e in value)
        elif isinstance(value, Mapping):
            flat.update(flatten_errors(value, path))
    return flat


def _embed_chars(embed: Mapping[str, Any]) -> int:
    # Exactly the parts Discord counts towards the 6000 total.
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    for field in embed.get("fields") or []:
        total += len(field.get("name") or "") + len(field.get("value") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    return total


def _check_embeds(errs: FormErrors, embeds: Sequence[Mapping[str, Any]], base: list[str]) -> None:
    path = [*base, "embeds"]
    errs.max_length(path, embeds, EMBEDS_MAX)
    for i, embed in enumerate(embeds):
        at = [*path, i]
        errs.max_length([*at, "title"], embed.get("title"), EMBED_TITLE_MAX)
        errs.max_length([*at, "description"], embed.get("description"), EMBED_DESCRIPTION_MAX)
        fields = embed.get("fields") or []
        errs.max_length([*at, "fields"], fields, EMBED_FIELDS_MAX)
        for j, field in enumerate(fields):
            name, value = field.get("name"), field.get("value")
            # Both are required and must be non-empty; a frequent bug when a passage is blank.
            if not name:
                errs.add([*at, "fields", j, "name"], "BASE_TYPE_REQUIRED", "This field is required")
            if not value:
                errs.add(
                    [*at, "fields", j, "value"], "BASE_TYPE_REQUIRED", "This field is required"
                )
            errs.max_length([*at, "fields", j, "name"], name, EMBED_FIELD_NAME_MAX)
            errs.max_length([*at, "fields", j, "value"], value, EMBED_FIELD_VALUE_MAX)
        footer = embed.get("footer") or {}
        errs.max_length([*at, "footer", "text"], footer.get("text"), EMBED_FOOTER_TEXT_MAX)
        author = embed.get("author") or {}
        errs.max_length([*at, "author", "name"], author.get("name"), EMBED_AUTHOR_NAME_MAX)
    if sum(_embed_chars(e) for e in embeds) > EMBED_TOTAL_MAX:
        errs.add(
            path,
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
        )


def _check_component(errs: FormErrors, comp: Mapping[str, Any], at: list[str | int]) -> None:
    ctype = comp.get("type")
    if "custom_id" in comp:
        errs.max_length([*at, "custom_id"], comp.get("custom_id"), CUSTOM_ID_MAX)
    if ctype == _BUTTON:
        errs.max_length([*at, "label"], comp.get("label"), BUTTON_LABEL_MAX)
        style = comp.get("style")
        if style == _LINK_STYLE and not comp.get("url"):
            errs.add([*at, "url"], "BASE_TYPE_REQUIRED", "This field is required")
        if style not in (_LINK_STYLE, _PREMIUM_STYLE) and not comp.get("custom_id"):
            errs.add([*at, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required")
    elif ctype in _SELECTS:
        errs.max_length([*at, "placeholder"], comp.get("placeholder"), SELECT_PLACEHOLDER_MAX)
        options = comp.get("options") or []
        errs.max_length([*at, "options"], options, SELECT_OPTIONS_MAX)
        for k, opt in enumerate(options):
            for key in ("label", "value", "description"):
                errs.max_length([*at, "options", k, key], opt.get(key), SELECT_OPTION_TEXT_MAX)
    elif ctype == _TEXT_INPUT:
        errs.max_length([*at, "label"], comp.get("label"), TEXT_INPUT_LABEL_MAX)


def _check_rows(errs: FormErrors, rows: Sequence[Mapping[str, Any]], base: list[str]) -> None:
    path: list[str | int] = [*base, "components"]
    errs.max_length(path, rows, ROWS_MAX)
    for i, row in enumerate(rows):
        at = [*path, i]
        if row.get("type") != _ACTION_ROW:
            # Components V2 layouts nest differently; only their leaves are checked here.
            _check_component(errs, row, at)
            continue
        children = row.get("components") or []
        if not 1 <= len(children) <= COMPONENTS_PER_ROW_MAX:
            errs.add(
                [*at, "components"],
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {COMPONENTS_PER_ROW_MAX} in length.",
            )
        if any(c.get("type") in _SELECTS for c in children) and len(children) > 1:
            # A select menu takes the whole row.
            errs.add(
                [*at, "components"],
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for j, child in enumerate(children):
            _check_component(errs, child, [*at, "components", j])


def _check_allowed_mentions(errs: FormErrors, am: Mapping[str, Any], base: list[str]) -> None:
    path = [*base, "allowed_mentions"]
    parse = am.get("parse") or []
    for i, item in enumerate(parse):
        if item not in _ALLOWED_MENTION_PARSE:
            errs.add([*path, "parse", i], "BASE_TYPE_CHOICES", f"Value must be one of {parse!r}.")
    # Discord refuses a parse type together with an explicit id list of the same kind.
    for kind in ("users", "roles"):
        if kind in parse and am.get(kind):
            errs.add(
                [*path, "parse"],
                "ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
        errs.max_length([*path, kind], am.get(kind), 100)


def check_embeds(embeds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Errors for a list of embed dicts (``Embed.to_dict()``), keyed like a message payload."""
    errs = FormErrors()
    _check_embeds(errs, embeds, [])
    return errs.tree


def check_message(payload: Mapping[str, Any], *, base: Sequence[str] = ()) -> dict[str, Any]:
    """Errors for a create/edit-message payload (also a webhook or callback ``data``).

    Returns Discord's ``errors`` tree, empty when the payload is valid. ``base`` prefixes
    every path (``["data"]`` inside an interaction callback). An empty message is not a
    form error in Discord (it is code 50006) — see :func:`is_empty_message`.
    """
    errs = FormErrors()
    at = list(base)
    errs.max_length([*at, "content"], payload.get("content"), CONTENT_MAX)
    _check_embeds(errs, payload.get("embeds") or [], at)
    components = payload.get("components") or []
    if int(payload.get("flags") or 0) & _IS_COMPONENTS_V2:
        for i, comp in enumerate(components):
            _check_component(errs, comp, [*at, "components", i])
    else:
        _check_rows(errs, components, at)
    if payload.get("allowed_mentions") is not None:
        _check_allowed_mentions(errs, payload["allowed_mentions"], at)
    return errs.tree


def is_empty_message(payload: Mapping[str, Any], *, files: int = 0) -> bool:
    """True for a new message with nothing to show (Discord answers 50006)."""
    keys = ("content", "embeds", "components", "sticker_ids", "poll", "attachments")
    return files == 0 and not any(payload.get(k) for k in keys)


def check_autocomplete(data: Mapping[str, Any], *, base: Sequence[str] = ()) -> dict[str, Any]:
    """Errors for an autocomplete result (callback type 8) ``data``."""
    errs = FormErrors()
    at = list(base)
    choices = data.get("choices")
    if choices is None:
        errs.add([*at, "choices"], "BASE_TYPE_REQUIRED", "This field is required")
        return errs.tree
    errs.max_length([*at, "choices"], choices, AUTOCOMPLETE_CHOICES_MAX)
    for i, choice in enumerate(choices):
        name = choice.get("name") or ""
        if not name:
            errs.add([*at, "choices", i, "name"], "BASE_TYPE_REQUIRED", "This field is required")
        errs.max_length([*at, "choices", i, "name"], name, CHOICE_NAME_MAX)
        value = choice.get("value")
        if isinstance(value, str):
            errs.max_length([*at, "choices", i, "value"], value, CHOICE_VALUE_MAX)
    return errs.tree


def check_modal(data: Mapping[str, Any], *, base: Sequence[str] = ()) -> dict[str, Any]:
    """Errors for a modal (callback type 9) ``data``."""
    errs = FormErrors()
    at = list(base)
    errs.max_length([*at, "title"], data.get("title"), MODAL_TITLE_MAX)
    errs.max_length([*at, "custom_id"], data.get("custom_id"), CUSTOM_ID_MAX)
    _check_rows(errs, data.get("components") or [], at)
    return errs.tree


def check_interaction_callback(
    response_type: int, data: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Errors for a whole callback body ``{"type": ..., "data": ...}``."""
    data = data or {}
    if response_type in (4, 7):
        return check_message(data, base=["data"])
    if response_type == 8:
        return check_autocomplete(data, base=["data"])
    if response_type == 9:
        return check_modal(data, base=["data"])
    return {}


def assert_message_ok(payload: Mapping[str, Any]) -> None:
    """Raise ``AssertionError`` listing every broken limit (for unit tests of renderers)."""
    errors = check_message(payload)
    if errors:
        lines = "\n".join(f"  {k}: {v}" for k, v in flatten_errors(errors).items())
        raise AssertionError(f"message breaks Discord limits:\n{lines}")
