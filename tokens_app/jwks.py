"""``GET /.well-known/jwks.json``: the public keys that verify our access tokens.

Other services (resource servers) fetch this with PyJWT's ``PyJWKClient`` or
any JOSE library and pick the key named by a token's ``kid``. It lists the
current key and every fallback, so tokens issued before a rotation keep
verifying there too. Only public members are ever copied out of a key.

Under HMAC (``HS256``, the default) there is no public key: verifying would
need the shared secret, which never leaves this server. The endpoint then
answers **404** with a JSON body saying so, rather than an empty key set: a
resource server pointed at it fails loudly at once ("no JWKS here") instead of
caching an empty set and refusing every token with "no matching key".
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from .conf import app_settings
from .keys import HMAC_ALGORITHMS, PUBLIC_MEMBERS, access_keyring

_META = ("kid", "alg", "use")


def _public_only(jwk: dict[str, str]) -> dict[str, str]:
    allowed = PUBLIC_MEMBERS[jwk["kty"]] + _META
    return {name: jwk[name] for name in allowed}


@login_not_required
@require_safe
def jwks(request: HttpRequest) -> JsonResponse:
    algorithm = app_settings.ACCESS_ALGORITHM
    if algorithm in HMAC_ALGORITHMS:
        response = JsonResponse(
            {
                "code": "no_public_keys",
                "detail": (
                    f"Access tokens are signed with {algorithm}, a shared secret: there is no public "
                    "key to publish, and only this server can verify them. Set TOKENS_ACCESS_ALGORITHM "
                    "to EdDSA, ES256 or RS256 to let other services verify access tokens."
                ),
            },
            status=404,
        )
        patch_cache_control(response, no_store=True)
        return response
    keyring = access_keyring()
    response = JsonResponse({"keys": [_public_only(jwk) for jwk in keyring.public_jwks]})
    patch_cache_control(response, public=True, max_age=app_settings.JWKS_MAX_AGE)
    return response
