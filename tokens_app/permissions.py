"""Django REST framework permissions (imported only where DRF is used)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from .exceptions import ReauthenticationRequired
from .reauth import is_recent
from .tokens import Claims


class RecentlyAuthenticated(BasePermission):
    """DRF: the access token's ``auth_time`` is within the re-authentication window."""

    message = ReauthenticationRequired.message
    code = ReauthenticationRequired.code

    def has_permission(self, request: Request, view: APIView) -> bool:
        claims = request.auth if isinstance(request.auth, Claims) else None
        return is_recent(claims)
