from django.contrib import admin

from payments.models import RateCard


@admin.register(RateCard)
class RateCardAdmin(admin.ModelAdmin):
    list_display = ("program", "version", "currency", "hourly_rate_minor", "pay_floor_hourly_minor", "published_at")
    list_filter = ("currency",)

    def get_readonly_fields(self, request, obj=None):
        if obj and obj.published_at:
            return [f.name for f in RateCard._meta.fields]
        return ()
