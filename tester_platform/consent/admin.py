from django.contrib import admin, messages

from tester_platform.admin_mixins import ReadOnlyAdmin
from tester_platform.consent.models import ConsentDocument, ConsentRecord
from tester_platform.consent.services import consent_document_publish
from tester_platform.errors import DomainError


@admin.register(ConsentDocument)
class ConsentDocumentAdmin(ReadOnlyAdmin):
    list_display = ("program", "version", "title", "published_at", "sha256")
    list_filter = ("program",)
    search_fields = ("title", "body")
    actions = ["publish"]

    @admin.action(description="Publish (artists will be asked to consent again)")
    def publish(self, request, queryset):
        for document in queryset:
            try:
                consent_document_publish(document=document, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{document}: {error.message}", messages.WARNING)


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ("artist", "program", "document", "kind", "training_use", "marketing_use", "signed_at")
    list_filter = ("program", "kind", "training_use", "marketing_use")
    search_fields = ("artist__email",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in ConsentRecord._meta.fields]
