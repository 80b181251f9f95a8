from django.contrib import admin

from tester_platform.admin_mixins import ReadOnlyAdmin
from tester_platform.api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "user", "name", "created_at", "expires_at", "revoked_at", "last_used_at", "last_used_ip")
    search_fields = ("prefix", "user__email")
    exclude = ("token_hash",)
