"""The Django admin: a superuser's window onto the data, not a second write path.

Program managers, moderators and finance work in the staff console (/dashboard/), where
every write is a service that asks the one policy and writes an audit event. The admin is
for superusers (who passed their second factor, see StaffTwoFactorMiddleware) and shows
domain models read-only; what it may change it changes through admin actions that call
the same services."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class AtelierAdminSite(admin.AdminSite):
    site_header = "Atelier administration"
    site_title = "Atelier admin"

    def has_permission(self, request):
        user = request.user
        return user.is_active and user.is_superuser


class AtelierAdminConfig(AdminConfig):
    default_site = "tester_platform.admin_mixins.AtelierAdminSite"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records whose only write path is a service (append-only, or decided with a lock,
    an audit event and a ledger posting): the admin shows them and never changes them.
    Admin actions (which call services) still run: Django offers actions to anyone who
    may view the list."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
