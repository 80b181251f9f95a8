from django.apps import AppConfig


def _record_token_use(sender, *, token_id, ip, user_agent, now, **kwargs):
    from tester_platform.access.services import token_activity_record

    token_activity_record(token_id=token_id, ip=ip, user_agent=user_agent, now=now)


class AccessConfig(AppConfig):
    name = "tester_platform.access"
    label = "access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The API's authentication announces each token's use; the API sits below this app
        # and does not import it.
        from tester_platform.api.signals import token_used

        token_used.connect(_record_token_use, dispatch_uid="access.record_token_use")

        from tester_platform.pagecache import PROGRAMS, declare, no_pages, pages

        # Which cached pages a write to each model changes (tester_platform/pagecache.py).
        declare(
            {
                "access.AccessPolicy": pages(shared=(PROGRAMS,)),
                "access.TokenActivity": no_pages(
                    "per-minute API counters, written on every API call; read by the anomaly scan"
                ),
                "access.AccessFlag": pages("artist", others=("reviewed_by",)),
            }
        )
