"""The JSON API's answers, one serializer each (needs Django REST framework).

``api.py`` builds every answer with these, and ``schema.py`` documents the
same classes: what the OpenAPI schema says is what the code sends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework import serializers

from . import flows


class UserIdField(serializers.Field):
    """The user's primary key as JSON has it: a number for integer keys, a
    string for any other (a UUID, a string key)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> int | str:
        return value if isinstance(value, int) else str(value)


class TimestampField(serializers.DateTimeField):
    """The instant in ISO 8601 with its own offset (tokens carry UTC), left
    in that zone rather than moved into the site's TIME_ZONE."""

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class _ProfileField(serializers.CharField):
    """A profile attribute that a custom user model may lack: "" then."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_blank=True, **kwargs)

    def get_attribute(self, instance: Any) -> Any:
        source = self.source
        assert isinstance(source, str)  # a bound field: DRF made its name the source
        return getattr(instance, source, "")


class UserSerializer(serializers.Serializer):
    id = UserIdField(source="pk")
    username = serializers.CharField(source="get_username")
    email = _ProfileField()
    first_name = _ProfileField()
    last_name = _ProfileField()


class TokensSerializer(serializers.Serializer):
    user = UserSerializer()
    access_expires = TimestampField()
    refresh_expires = TimestampField()


class BearerTokensSerializer(TokensSerializer):
    """A native app's sign-in or refresh: the tokens themselves, in the body."""

    token_type = serializers.CharField(help_text='Always "Bearer".')
    access = serializers.CharField(help_text="Send as `Authorization: Bearer <access>`.")
    refresh = serializers.CharField(
        help_text="Send in the body of /api/auth/app/refresh/; rotated each time."
    )


class MeSerializer(serializers.Serializer):
    user = UserSerializer()
    access_expires = TimestampField()


class CsrfSerializer(serializers.Serializer):
    csrfToken = serializers.CharField()  # the JSON key the front end reads


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class CountSerializer(serializers.Serializer):
    detail = serializers.CharField()
    count = serializers.IntegerField()


class _SessionDeadline(TimestampField):
    """When the session ends however active: computed from today's settings."""

    def to_representation(self, session: Any) -> str:
        return super().to_representation(flows.session_deadline(session))


class _CurrentSession(serializers.BooleanField):
    """Whether it is the requesting device's own session (context: current_sid)."""

    def to_representation(self, session: Any) -> bool:
        return str(session.pk) == self.context.get("current_sid")


class SessionSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="pk")
    device = serializers.CharField(source="user_agent", allow_blank=True)
    ip_address = serializers.IPAddressField(allow_null=True)
    created_at = TimestampField()
    last_used_at = TimestampField()
    expires_at = TimestampField(help_text="When it ends if unused (the idle timeout).")
    remembered = serializers.BooleanField(
        source="persistent", help_text="Signed in with remember me: persistent cookies."
    )
    ends_at = _SessionDeadline(source="*", help_text="When it ends however active: its maximum lifetime.")
    current = _CurrentSession(source="*")


_bound: dict[type[serializers.Serializer], serializers.Serializer] = {}


def represent(serializer_class: type[serializers.Serializer], instance: Any) -> dict[str, Any]:
    """``serializer_class(instance).data`` without a new serializer per answer.

    DRF deep-copies every declared field (the nested ones too) for each new
    serializer: about a tenth of a refresh's CPU for the token answer. These
    answer serializers hold no per-request state, so one bound instance per
    class renders them all (its ``fields`` are built once; a race on that
    first build only builds them twice).
    """
    serializer = _bound.get(serializer_class)
    if serializer is None:
        serializer = _bound[serializer_class] = serializer_class()
    return serializer.to_representation(instance)
