"""authproject's production settings, for the chaos servers.

Two changes only: the clock each request carries (server_clock.py), and the
fast password hasher, so that signing in hundreds of simulated browsers costs
no CPU the refreshes need. Lifetimes, the grace window and the leeway are the
defaults a deployment has.
"""

from authproject.settings import *  # noqa: F403
from authproject.settings import MIDDLEWARE
from tests.chaos import server_clock

server_clock.install()

MIDDLEWARE = ["tests.chaos.server_clock.ShiftedClockMiddleware", *MIDDLEWARE]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
