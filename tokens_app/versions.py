"""Where a user's token_version lives: the one place that knows.

Two storages, one internal API for flows, revocation and the middleware:

- a field on the user model (``tokens_app.User``, or a project's own model
  built on ``TokenVersionMixin``): read straight off the user row;
- a ``UserTokenVersion`` row one-to-one with the user (``auth.User``, with
  ``tokens_app.user_version`` installed), created by the first bump; no row
  means 0. Wherever a user is loaded, the row is joined in the same
  statement (``joined``), so the costs are those of the field: 0 SQL per
  authenticated request, the same statements per refresh.

Only ``revocation.bump_token_version`` writes, through ``storage``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.db.models.functions import Coalesce

FIELD = "token_version"
ROW = "token_version_row"  # UserTokenVersion.user's related_name


def on_user_model() -> bool:
    """True when the user model carries the token_version field itself."""
    try:
        get_user_model()._meta.get_field(FIELD)
    except FieldDoesNotExist:
        return False
    return True


def joined(prefix: str = "") -> tuple[str, ...]:
    """What ``select_related`` needs besides the user (reached by ``prefix``,
    e.g. ``"user"`` from a LoginSession) for ``of()`` to need no query."""
    if on_user_model():
        return ()
    return (f"{prefix}__{ROW}" if prefix else ROW,)


def of(user: AbstractBaseUser) -> int:
    """The token_version of a loaded user: no query when it was loaded with ``joined``."""
    if on_user_model():
        return int(getattr(user, FIELD))
    try:
        return getattr(user, ROW).version
    except ObjectDoesNotExist:
        return 0  # never bumped: the row is created by the first bump


def expression(prefix: str = "") -> Any:
    """The version as a ``values_list`` argument on the user model's queryset,
    or on another model's, through the lookup ``prefix`` (``"user"``)."""
    path = f"{prefix}__" if prefix else ""
    if on_user_model():
        return path + FIELD
    return Coalesce(f"{path}{ROW}__version", 0, output_field=models.IntegerField())


def storage() -> tuple[type[models.Model], str, str, bool]:
    """(model, the version's field, the lookup naming the user, whether a
    missing row may be created): what ``revocation`` needs to bump."""
    if on_user_model():
        return get_user_model(), FIELD, "pk", False
    from django.apps import apps

    return apps.get_model("tokens_app_user_version", "UserTokenVersion"), "version", "user_id", True


def remember(user: AbstractBaseUser, version: int) -> None:
    """Set a just-bumped version on ``user``, so a later save() cannot write
    the old one back and tokens issued from this instance carry the new one."""
    if on_user_model():
        setattr(user, FIELD, version)
        return
    model = storage()[0]
    setattr(user, ROW, model(user_id=user.pk, version=version))
