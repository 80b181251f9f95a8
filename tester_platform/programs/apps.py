from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "tester_platform.programs"
    label = "programs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tester_platform.pagecache import PROGRAMS, declare, no_pages, pages

        # Which cached pages a write to each model changes (tester_platform/pagecache.py).
        declare(
            {
                "programs.Program": pages(shared=(PROGRAMS,)),
                "programs.ProgramStaff": pages("user", shared=(PROGRAMS,)),
                "programs.Invitation": no_pages(
                    "read by the invitation and staff pages, not cached; accepting one writes an Enrollment"
                ),
                "programs.Application": pages("artist", others=("decided_by",)),
                "programs.Enrollment": pages("artist"),
            }
        )
