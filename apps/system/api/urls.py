from django.urls import path

from apps.system.api import views

urlpatterns = [
    path("system/health", views.HealthView.as_view(), name="system-health"),
    path("settings", views.GlobalSettingsView.as_view(), name="settings"),
]
