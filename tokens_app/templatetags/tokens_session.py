"""``{% load tokens_session %}{% session_deadline as deadline %}``: the
signed-in session's end, for the base template's data attributes."""

from __future__ import annotations

from typing import Any

from django import template

from tokens_app import deadline

register = template.Library()


@register.simple_tag(takes_context=True)
def session_deadline(context: dict[str, Any]) -> deadline.Deadline | None:
    request = context.get("request")
    return None if request is None else deadline.of(request)
