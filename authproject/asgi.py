import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authproject.settings")

application = get_asgi_application()

# WebSockets, where Channels is installed (the `channels` extra): signed in by
# the auth cookies, closed when the session ends (tokens_app.websocket).
try:
    from channels.routing import ProtocolTypeRouter, URLRouter
except ImportError:  # pragma: no cover - the site runs without the extra
    pass
else:
    from django.urls import path

    from authproject.consumers import WhoAmIConsumer
    from tokens_app.websocket import TokenAuthMiddleware

    application = ProtocolTypeRouter(
        {
            "http": application,
            "websocket": TokenAuthMiddleware(URLRouter([path("ws/whoami/", WhoAmIConsumer.as_asgi())])),
        }
    )
