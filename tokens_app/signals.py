"""Security events other apps can hook. Definitions only: the app's own
receivers live in receivers.py and are connected in apps.ready()."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by revocation.bump_token_version: every session of ``user`` has ended.
# Arguments: user, reason, actor, version (the new token_version).
tokens_revoked = Signal()

# Sent when a retired refresh token was presented after the grace window.
# Arguments: user, session, request.
refresh_token_reused = Signal()

# Sent when one device session is ended. Arguments: session, reason, actor.
session_revoked = Signal()

# Sent when an account signs in from a device and network it has not used
# before (alerts.py, while TOKENS_NEW_DEVICE_ALERTS is on), whether or not the
# mail can go out (no address, throttled). Arguments: user, session, request.
new_device_signed_in = Signal()
