from django.urls import path

from apps.system.consumers import SystemConsumer

websocket_urlpatterns = [path("api/v1/ws/system", SystemConsumer.as_asgi())]
