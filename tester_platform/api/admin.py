from django.contrib import admin

from tester_platform.api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "expires_at", "revoked_at", "last_used_at", "last_used_ip")
    search_fields = ("prefix", "user__email")
    readonly_fields = ("user", "prefix", "token_hash", "scopes", "created_at", "expires_at", "last_used_at",
                       "last_used_ip")
