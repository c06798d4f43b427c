"""Interactive message templates for the emulator (list pickers and the like).

An interactive message is a MESSAGE item with ContentType
``application/vnd.amazonaws.connect.message.interactive`` whose Content is a JSON template
``{"templateType": ..., "version": "1.0", "data": {...}}`` ([protocol](protocol.md#items)). The
customer
answers with SendMessage, ContentType ``...message.interactive.response``. This module builds
and checks templates; :meth:`participant.emulator.Emulator.send_interactive_message` sends one
into a chat.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["interactive_content", "list_picker"]


def list_picker(
    title: str,
    elements: Sequence[str | Mapping[str, Any]],
    *,
    subtitle: str | None = None,
    image_url: str | None = None,
    reply_title: str | None = None,
) -> dict[str, Any]:
    """A ListPicker template (version 1.0).

    ``elements``: one entry per choice, a title string or a mapping with ``title`` and
    optionally ``subtitle``, ``imageType``, ``imageData``, ``imageDescription``.
    ``reply_title`` adds ``data.replyMessage`` (what the customer's side shows once chosen).
    Raises ValueError naming the field when ``title`` is empty, an element has no title, or
    there is no element.
    """
    if not title:
        raise ValueError("title must be a non-empty string")
    if not elements:
        raise ValueError("elements must hold at least 1 choice")
    items: list[dict[str, Any]] = []
    for index, element in enumerate(elements):
        entry = {"title": element} if isinstance(element, str) else dict(element)
        if not isinstance(entry.get("title"), str) or not entry["title"]:
            raise ValueError(f"elements[{index}].title must be a non-empty string")
        items.append(entry)
    content: dict[str, Any] = {"title": title}
    if subtitle is not None:
        content["subtitle"] = subtitle
    if image_url is not None:
        content["imageType"] = "URL"
        content["imageData"] = image_url
    content["elements"] = items
    data: dict[str, Any] = {"content": content}
    if reply_title is not None:
        data["replyMessage"] = {"title": reply_title}
    return {"templateType": "ListPicker", "version": "1.0", "data": data}


def interactive_content(template: Mapping[str, Any] | str) -> str:
    """The Content string of an interactive message for ``template`` (a mapping or its JSON).

    Checks the envelope every template has: a JSON object with a non-empty string
    ``templateType``, a string ``version`` and an object ``data``. Raises ValueError naming
    the field otherwise.
    """
    if isinstance(template, str):
        try:
            parsed = json.loads(template)
        except ValueError:
            raise ValueError("template must be JSON text of an object") from None
    else:
        parsed = dict(template)
    if not isinstance(parsed, dict):
        raise ValueError("template must be a JSON object")
    if not isinstance(parsed.get("templateType"), str) or not parsed["templateType"]:
        raise ValueError("template.templateType must be a non-empty string (e.g. ListPicker)")
    if not isinstance(parsed.get("version"), str):
        raise ValueError('template.version must be a string (e.g. "1.0")')
    if not isinstance(parsed.get("data"), dict):
        raise ValueError("template.data must be an object")
    return template if isinstance(template, str) else json.dumps(parsed)
