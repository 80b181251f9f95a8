from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records whose only write path is a service (append-only, or decided with a lock,
    an audit event and a ledger posting): the admin shows them and never changes them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
