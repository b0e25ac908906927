"""System checks for unsafe or broken token settings. Ids are stable; texts live in messages.py.

Importing this package registers every check (apps.py does, in ready()).
"""

from __future__ import annotations

from . import cookies, installation, security
from .messages import MESSAGES, MIDDLEWARE_PATH, message
from .security import MIN_KEY_BYTES

# The name the tests and older imports use.
_message = message

__all__ = ["MESSAGES", "MIDDLEWARE_PATH", "MIN_KEY_BYTES", "cookies", "installation", "message", "security"]
