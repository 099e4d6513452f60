from django.contrib.admin.apps import AdminConfig


class CastCoreAdminConfig(AdminConfig):
    """The Django admin, with CastCore's site (two-factor for enrolled users)."""

    default_site = "castcore.admin_site.CastCoreAdminSite"
