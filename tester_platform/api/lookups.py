from django.http import Http404

MAX_ID = 2**63 - 1  # the largest primary key a database can hold; larger input is a 400/404, not a 500


def pk_or_404(value) -> int:
    """A primary key from the URL, or 404: junk and out-of-range numbers never reach the database."""
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None
    if not 0 < pk <= MAX_ID:
        raise Http404("Not found.")
    return pk


# --- staff queues (`?queue=review` on share requests, feedback, time entries) -----------


def _queue_query_serializer():
    from rest_framework import serializers

    class QueueQuery(serializers.Serializer):
        queue = serializers.ChoiceField(
            choices=["review"],
            required=False,
            help_text="`review`: what awaits review in the programs you review (moderators, managers, admins), "
            "instead of your own; 403 if you review no program.",
        )
        program = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)

    return QueueQuery


QueueQuerySerializer = _queue_query_serializer()
# The schema's parameters are the serializer that checks them, bounds and all.
QUEUE_PARAMETERS = [QueueQuerySerializer]


def queue_query(request) -> tuple[bool, int | None]:
    """(the review queue was asked for, the program filter) from the query string; 400 on junk."""
    query = QueueQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data.get("queue") == "review", query.validated_data.get("program")


def review_queue_or_403(user, selector, **filters):
    """A staff queue from its selector, which scopes it through policy.programs_for(user,
    Act.REVIEW); someone who reviews no program is refused rather than shown an empty queue."""
    from tester_platform.policy import Act, PolicyDenied, programs_for

    if not programs_for(user, Act.REVIEW).exists():
        raise PolicyDenied("Only moderators and managers of a program have a review queue.", code="not_a_reviewer")
    return selector(user=user, **filters)


def visible_program_or_404(user, pk):
    """A program the user may see (as GET /programs/{id}/ does), or 404."""
    from tester_platform.programs.selectors import programs_visible_to

    program = programs_visible_to(user=user).filter(pk=pk_or_404(pk)).first()
    if program is None:
        raise Http404("No such program.")
    return program
