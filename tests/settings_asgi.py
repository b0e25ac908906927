"""The site's settings with the client-surface test URLs (tests/urls_clients.py:
a ninja API and async views), for the live ASGI server test."""

from authproject.settings import *  # noqa: F403

ROOT_URLCONF = "tests.urls_clients"
