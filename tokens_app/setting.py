"""``Setting``: one line of the table of settings in conf.py, read when used."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, Generic, TypeVar, overload

from django.conf import settings

_T = TypeVar("_T")
_UNSET: Any = object()


class Setting(Generic[_T]):
    """One ``TOKENS_<NAME>`` setting: a line of the table.

    ``default`` is used when the project does not set it, or ``derive(app_settings)``
    for a default that depends on other settings (``shown`` then says it in
    words, for the docs). ``blank_means_default``: an empty value ("", None)
    also gives the default. ``clean`` turns the value into what the app uses.
    ``required``: no default; absent or empty raises MissingSetting.
    """

    name: str

    def __init__(
        self,
        default: _T,
        meaning: str,
        *,
        derive: Callable[[Any], _T] | None = None,
        shown: str | None = None,
        clean: Callable[[Any], _T] | None = None,
        blank_means_default: bool = False,
        required: bool = False,
    ) -> None:
        self.default = default
        self.meaning = meaning
        self.derive = derive
        # A default in words ("not DEBUG") is shown as text, a value as code.
        self.shown = shown if shown is not None else f"`{_show(default)}`"
        self.clean = clean
        self.blank_means_default = blank_means_default
        self.required = required

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.name = f"TOKENS_{attribute}"

    @overload
    def __get__(self, instance: None, owner: type) -> Setting[_T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> _T: ...
    def __get__(self, instance: object | None, owner: type) -> Setting[_T] | _T:
        if instance is None:
            return self
        value = getattr(settings, self.name, _UNSET)
        if self.required:
            if value is _UNSET or not value:
                from .conf import MissingSetting  # conf imports this module

                raise MissingSetting(self.name)
            return value
        if value is _UNSET or (self.blank_means_default and not value):
            value = self.derive(instance) if self.derive is not None else self.default
        return self.clean(value) if self.clean is not None else value


def _show(value: object) -> str:
    """A default as the docs show it: "5 minutes", "(3, 1 hour)", "'HS256'"."""
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if seconds >= size and seconds % size == 0:
                count = seconds // size
                return f"{count} {unit}{'s' if count != 1 else ''}"
        return f"{seconds} seconds"
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(item) for item in value) + ")"
    return repr(value)
