"""``request.user`` built from a verified access token.

Who the user is (id, username) comes from the token: no database query. The
first time code asks for anything more (``is_staff``, ``has_perm``, ``email``,
``isinstance`` or ``==``) the user is loaded from the database, and the token
is re-checked against that fresh row: a stale ``token_version`` or an inactive
account turns the user anonymous on the spot. So the admin and every
permission check always see current data and honour a revocation at once.

Why a lazy object, with ``__class__`` answered by the model
-----------------------------------------------------------
This is the one place that explains it. ``request.user`` must *be* a user of
the project's model for the code that never heard of tokens: the admin's
``isinstance`` checks, ModelForms and ``ForeignKey`` assignment, templates,
``user == other``, ``has_perm``. A plain class answering ``id``/``username``
would break all of them; a model instance would cost a query on every
request. Django's own ``AuthenticationMiddleware`` has the same need and
answers it the same way: ``request.user`` is a ``SimpleLazyObject``, whose
``__class__`` already reports the wrapped class. We only answer
``__class__`` from ``get_user_model()`` instead, so asking it costs no query.

Nothing outside this module touches the lazy machinery: a user already loaded
(by a refresh that just read the row) is passed in as ``user=``, and the code
that needs the model instance itself (before a revocation changes its row)
calls ``model_user(request.user)``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.utils.functional import SimpleLazyObject, empty

from . import versions
from .exceptions import TokenRevoked
from .tokens import Claims

OnRevoked = Callable[[TokenRevoked], None]


def _load(claims: Claims, on_revoked: OnRevoked | None) -> AbstractBaseUser | AnonymousUser:
    User = get_user_model()
    users = User._default_manager.all()
    # select_related() with no names would join every foreign key of
    # the user model (and is deprecated in Django 6.1): only the version's row.
    if joined := versions.joined():
        users = users.select_related(*joined)
    user = users.filter(pk=claims.sub).first()
    if user is None or not user.is_active or versions.of(user) != claims.ver:
        if on_revoked is not None:
            on_revoked(TokenRevoked())
        return AnonymousUser()
    return user


class TokenUser(SimpleLazyObject):
    # LazyObject's own machinery, which django-stubs does not declare.
    _setup: Callable[[], None]

    def __init__(
        self, claims: Claims, on_revoked: OnRevoked | None = None, *, user: AbstractBaseUser | None = None
    ) -> None:
        super().__init__(partial(_load, claims, on_revoked))
        self.__dict__["_claims"] = claims
        if user is not None:
            self._wrapped = user  # just checked against the token by the caller: no second query

    def model_user(self) -> AbstractBaseUser | None:
        """The model instance, loaded and checked against the token now if it
        was not yet; None if the token no longer holds."""
        if self._wrapped is empty:
            self._setup()
        return self._wrapped if self._wrapped.is_authenticated else None

    # Answered from the token alone. Everything else goes to the loaded user.
    @property
    def pk(self) -> Any:
        return get_user_model()._meta.pk.to_python(self.__dict__["_claims"].sub)

    id = pk

    @property
    def username(self) -> str:
        return self.__dict__["_claims"].username

    def get_username(self) -> str:
        return self.__dict__["_claims"].username

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    # A read-only property over object's writable __class__ (mypy: misc):
    # assigning it is forwarded to the loaded user by LazyObject anyway.
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        # isinstance() and the template engine ask for the class; the model
        # class is the honest answer, and it needs no query (see above).
        return get_user_model()

    def __bool__(self) -> bool:
        # DRF's IsAuthenticated asks ``request.user and ...``: a user is truthy.
        return True

    def __getitem__(self, key: object) -> Any:
        # Templates try user["name"] before user.name; answer as a model
        # instance would, without loading one.
        raise TypeError("TokenUser is not subscriptable")

    def __repr__(self) -> str:
        return f"<TokenUser {self.__dict__['_claims'].sub}>"


# request.user as it comes: a user, a TokenUser standing in for one, or AnonymousUser.
RequestUser = AbstractBaseUser | AnonymousUser | TokenUser


# Any request.user, duck-typed: DRF's, another app's, or ours.
def model_user(user: Any) -> AbstractBaseUser | None:
    """The model instance behind any ``request.user`` (the middleware's lazy
    one, DRF's, a TokenUser, or a plain instance); None if not signed in.

    A TokenUser is loaded and checked against its token here, so a caller
    about to change the row's token_version reads the user before it does.
    """
    # Through the middleware's lazy request.user too: attribute access resolves it.
    loaded = getattr(user, "model_user", None)
    if callable(loaded):
        return loaded()
    return user if user is not None and user.is_authenticated else None
