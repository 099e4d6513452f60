from django.urls import include, path
from rest_framework.routers import SimpleRouter

from apps.accounts.api import views

router = SimpleRouter(trailing_slash=False)
router.register("users", views.UserViewSet, basename="user")
router.register("tokens", views.ApiTokenViewSet, basename="api-token")
router.register("audit", views.AuditEntryViewSet, basename="audit")

urlpatterns = [
    path("auth/login", views.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", views.MeView.as_view(), name="auth-me"),
    path("auth/2fa/verify", views.TwoFactorVerifyView.as_view(), name="auth-2fa-verify"),
    path("auth/2fa/enroll", views.TwoFactorEnrollView.as_view(), name="auth-2fa-enroll"),
    path("auth/2fa/confirm", views.TwoFactorConfirmView.as_view(), name="auth-2fa-confirm"),
    path("auth/2fa/disable", views.TwoFactorDisableView.as_view(), name="auth-2fa-disable"),
    path("roles", views.RolesView.as_view(), name="roles"),
    path("settings/me", views.PreferencesView.as_view(), name="settings-me"),
    path("", include("apps.accounts.api.cli_install_urls")),
    *router.urls,
]
