"""``request.user`` built from a verified access token.

Who the user is (id, username) comes from the token: no database query. The
first time code asks for anything more (``is_staff``, ``has_perm``, ``email``,
``isinstance`` or ``==``) the user is loaded from the database, and the token
is re-checked against that fresh row: a stale ``token_version`` or an inactive
account turns the user anonymous on the spot. So the admin and every
permission check always see current data and honour a revocation at once.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.utils.functional import SimpleLazyObject

from . import versions
from .exceptions import TokenRevoked
from .tokens import Claims


class TokenUser(SimpleLazyObject):
    def __init__(self, claims: Claims, on_revoked: Callable[[TokenRevoked], None] | None = None):
        def load():
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

        super().__init__(load)
        self.__dict__["_claims"] = claims

    # Answered from the token alone. Everything else goes to the loaded user.
    @property
    def pk(self):
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

    @property
    def __class__(self):
        # isinstance() and the template engine ask for the class; the model
        # class is the honest answer, and it needs no query.
        return get_user_model()

    def __bool__(self) -> bool:
        # DRF's IsAuthenticated asks ``request.user and ...``: a user is truthy.
        return True

    def __getitem__(self, key):
        # Templates try user["name"] before user.name; answer as a model
        # instance would, without loading one.
        raise TypeError("TokenUser is not subscriptable")

    def __repr__(self) -> str:
        return f"<TokenUser {self.__dict__['_claims'].sub}>"
