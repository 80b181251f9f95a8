from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "tester_platform.audit"
    label = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.core.checks import Tags, register

        from tester_platform.checks import production_secrets_check

        # The audit app is a core app every deployment installs; the check guards the
        # whole platform's secrets, the chain key among them.
        register(production_secrets_check, Tags.security, deploy=True)

        from tester_platform.pagecache import declare, no_pages

        # Which cached pages a write to each model changes (tester_platform/pagecache.py).
        declare(
            {
                "audit.AuditEvent": no_pages(
                    "the audit trail is read by staff reports, not by a cached page; written by every service"
                ),
                "audit.AuditChainHead": no_pages("the hash chain's bookkeeping"),
            }
        )
