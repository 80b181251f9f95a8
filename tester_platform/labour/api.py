"""API v1 for labour: feedback, time entries, reviews, and earnings. Thin: validate,
scope the object to the requester (another artist's → 404), call the service."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.models import Severity
from tester_platform.api.lookups import (
    QUEUE_PARAMETERS,
    pk_or_404,
    queue_query,
    review_queue_or_403,
    visible_program_or_404,
)
from tester_platform.api.models import ApiToken
from tester_platform.api.permissions import DEFAULT_PERMISSIONS
from tester_platform.labour import serializers as s
from tester_platform.labour.models import Assignment, FeedbackReport, Task, TimeEntry
from tester_platform.labour.selectors import (
    assignment_queue,
    can_review,
    earnings_for,
    feedback_queue,
    feedback_visible_to,
    programs_for_filing,
    task_queue,
    tasks_offered,
    time_entries_visible_to,
    time_queue,
    time_suggestions,
    with_progress,
)
from tester_platform.labour.services import (
    NotEnrolled,
    feedback_mark_acted_on,
    feedback_review,
    feedback_submit,
    time_entry_review,
    time_entry_submit,
)
from tester_platform.programs.models import Program

ITEM_ID = OpenApiParameter("id", int, OpenApiParameter.PATH)


def _filing_program(user, program_id: int) -> Program:
    # A program that does not exist and one the artist is not in answer the same way.
    program = Program.objects.filter(pk=program_id).first()
    if program is None:
        raise NotEnrolled("You are not a tester of this program.", field="program")
    return program


class _LabourViewSet(viewsets.ViewSet):
    permission_classes = DEFAULT_PERMISSIONS
    lookup_value_regex = r"[0-9]+"
    pagination_class = PageNumberPagination  # also tells the schema that lists are paginated

    action_scopes = {
        "create": ApiToken.Scope.LABOUR,
        "review": ApiToken.Scope.REVIEW,
        "rerate": ApiToken.Scope.REVIEW,
        "acted_on": ApiToken.Scope.PROGRAMS,
    }

    def _page(self, request, queryset, serializer_class):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True, context={"request": request}).data)


class FeedbackViewSet(_LabourViewSet):
    """The artist's own feedback reports; moderators of a program review its reports."""

    @extend_schema(parameters=QUEUE_PARAMETERS, responses=s.FeedbackSerializer(many=True))
    def list(self, request):
        """Mine; with `queue=review`, the reports waiting for review in the programs I review."""
        review, program = queue_query(request)
        if review:
            reports = review_queue_or_403(request.user, feedback_queue, program_id=program).prefetch_related(
                "generations", "attachments", "rerates__ledger_entry"
            )
            return self._page(request, reports, s.FeedbackSerializer)
        reports = (
            FeedbackReport.objects.filter(artist=request.user)
            .prefetch_related("generations", "attachments", "rerates__ledger_entry")
            .order_by("-created_at", "-id")
        )
        if program:
            reports = reports.filter(program_id=program)
        return self._page(request, reports, s.FeedbackSerializer)

    @extend_schema(parameters=[ITEM_ID], responses=s.FeedbackSerializer)
    def retrieve(self, request, pk=None):
        return Response(s.FeedbackSerializer(self._visible(request, pk), context={"request": request}).data)

    @extend_schema(request=s.FeedbackCreateSerializer, responses={201: s.FeedbackSerializer})
    def create(self, request):
        data = s.FeedbackCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        report = feedback_submit(
            artist=request.user,
            program=_filing_program(request.user, values["program"]),
            category=values["category"],
            severity=values["severity"],
            title=values["title"],
            body=values["body"],
            generation_id=values.get("generation"),
            generation_ids=values["generations"],
        )
        return Response(s.FeedbackSerializer(report, context={"request": request}).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[ITEM_ID], request=s.FeedbackRerateSerializer, responses=s.FeedbackSerializer)
    @action(detail=True, methods=["post"])
    def rerate(self, request, pk=None):
        """Change the severity with a reason the artist sees; on an accepted report the bounty
        follows once (one adjustment line)."""
        from tester_platform.labour.findings import feedback_rerate

        data = s.FeedbackRerateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = self._visible(request, pk)
        feedback_rerate(
            report=report,
            moderator=request.user,
            severity=data.validated_data["severity"],
            reason=data.validated_data["reason"],
        )
        report.refresh_from_db()
        return Response(s.FeedbackSerializer(report, context={"request": request}).data)

    @extend_schema(parameters=[ITEM_ID], request=s.FeedbackReviewSerializer, responses=s.FeedbackSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        data = s.FeedbackReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = feedback_review(
            report=self._visible(request, pk),
            reviewer=request.user,
            decision=data.validated_data["decision"],
            reason=data.validated_data["reason"],
            duplicate_of_id=data.validated_data.get("duplicate_of"),
        )
        return Response(s.FeedbackSerializer(report, context={"request": request}).data)

    @extend_schema(parameters=[ITEM_ID], request=s.ActedOnSerializer, responses=s.FeedbackSerializer)
    @action(detail=True, methods=["post"], url_path="acted-on")
    def acted_on(self, request, pk=None):
        data = s.ActedOnSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = feedback_mark_acted_on(
            report=self._visible(request, pk), actor=request.user, note=data.validated_data["note"]
        )
        return Response(s.FeedbackSerializer(report, context={"request": request}).data)

    @staticmethod
    def _visible(request, pk) -> FeedbackReport:
        report = feedback_visible_to(user=request.user).filter(pk=pk_or_404(pk)).first()
        if report is None:
            raise Http404("No such feedback report.")
        return report


class TimeEntryViewSet(_LabourViewSet):
    """The artist's own time entries; moderators of a program review its entries."""

    @extend_schema(parameters=QUEUE_PARAMETERS, responses=s.TimeEntrySerializer(many=True))
    def list(self, request):
        """Mine; with `queue=review`, the entries waiting for review in the programs I review."""
        review, program = queue_query(request)
        if review:
            return self._page(
                request, review_queue_or_403(request.user, time_queue, program_id=program), s.TimeEntrySerializer
            )
        entries = TimeEntry.objects.filter(artist=request.user).prefetch_related("generations").order_by("-date", "-id")
        if program:
            entries = entries.filter(program_id=program)
        return self._page(request, entries, s.TimeEntrySerializer)

    @extend_schema(parameters=[ITEM_ID], responses=s.TimeEntrySerializer)
    def retrieve(self, request, pk=None):
        return Response(s.TimeEntrySerializer(self._visible(request, pk)).data)

    @extend_schema(request=s.TimeEntryCreateSerializer, responses={201: s.TimeEntrySerializer})
    def create(self, request):
        data = s.TimeEntryCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        entry = time_entry_submit(
            artist=request.user,
            program=_filing_program(request.user, values["program"]),
            date=values["date"],
            minutes=values["minutes"],
            description=values["description"],
            generation_ids=values["generations"],
        )
        return Response(s.TimeEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[ITEM_ID], request=s.TimeReviewSerializer, responses=s.TimeEntrySerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        data = s.TimeReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = time_entry_review(
            entry=self._visible(request, pk),
            reviewer=request.user,
            decision=data.validated_data["decision"],
            reason=data.validated_data["reason"],
        )
        return Response(s.TimeEntrySerializer(entry).data)

    @extend_schema(parameters=[s.SuggestionQuerySerializer], responses=s.TimeSuggestionSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def suggestions(self, request):
        """Proposed minutes per day from the artist's metered generation activity."""
        query = s.SuggestionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        program = programs_for_filing(artist=request.user).filter(pk=query.validated_data["program"]).first()
        if program is None:
            raise Http404("No such program among yours.")
        rows = time_suggestions(artist=request.user, program_id=program.pk, days=query.validated_data["days"])
        return Response(s.TimeSuggestionSerializer([r.as_dict() for r in rows], many=True).data)

    @staticmethod
    def _visible(request, pk) -> TimeEntry:
        entry = time_entries_visible_to(user=request.user).filter(pk=pk_or_404(pk)).first()
        if entry is None:
            raise Http404("No such time entry.")
        return entry


class TaskViewSet(_LabourViewSet):
    """Tasks: those offered to the artist; with `queue=review`, the tasks of the programs the
    caller reviews (moderators, managers, admins) with each one's progress."""

    @extend_schema(parameters=QUEUE_PARAMETERS, responses=s.TaskSerializer(many=True))
    def list(self, request):
        """Open to me and not yet taken; with `queue=review`, every task of the programs I review."""
        review, program = queue_query(request)
        if review:
            return self._page(
                request, review_queue_or_403(request.user, task_queue, program_id=program), s.TaskSerializer
            )
        tasks = tasks_offered(artist=request.user)
        if program:
            tasks = tasks.filter(program_id=program)
        return self._page(request, tasks, s.TaskSerializer)

    @extend_schema(parameters=[ITEM_ID], responses=s.TaskSerializer)
    def retrieve(self, request, pk=None):
        from tester_platform.labour.assignments import task_visible_to

        task = with_progress(Task.objects.filter(pk=pk_or_404(pk))).select_related("program").first()
        if task is None or not task_visible_to(task=task, user=request.user):
            raise Http404("No such task among those offered to you.")
        return Response(s.TaskSerializer(task, context={"request": request}).data)


class AssignmentViewSet(_LabourViewSet):
    """The artist's own assignments; with `queue=review`, the assignments submitted for review
    in the programs the caller reviews. Reviewers accept (the pay posts once) or return them."""

    @staticmethod
    def _queryset():
        return Assignment.objects.select_related("task", "ledger_entry").prefetch_related("generations", "findings")

    @extend_schema(parameters=QUEUE_PARAMETERS, responses=s.AssignmentSerializer(many=True))
    def list(self, request):
        """Mine; with `queue=review`, those awaiting review in the programs I review."""
        review, program = queue_query(request)
        if review:
            return self._page(
                request, review_queue_or_403(request.user, assignment_queue, program_id=program), s.AssignmentSerializer
            )
        mine = self._queryset().filter(artist=request.user).order_by("-accepted_at", "-id")
        if program:
            mine = mine.filter(task__program_id=program)
        return self._page(request, mine, s.AssignmentSerializer)

    @extend_schema(parameters=[ITEM_ID], responses=s.AssignmentSerializer)
    def retrieve(self, request, pk=None):
        return Response(s.AssignmentSerializer(self._visible(request, pk), context={"request": request}).data)

    @extend_schema(parameters=[ITEM_ID], request=s.AssignmentReviewSerializer, responses=s.AssignmentSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Accept (the pay posts once, as a line of testing time) or return with a reason."""
        from tester_platform.labour.assignments import assignment_review

        data = s.AssignmentReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = assignment_review(
            assignment=self._visible(request, pk),
            reviewer=request.user,
            decision=data.validated_data["decision"],
            reason=data.validated_data["reason"],
        )
        return Response(
            s.AssignmentSerializer(self._queryset().get(pk=assignment.pk), context={"request": request}).data
        )

    def _visible(self, request, pk) -> Assignment:
        assignment = self._queryset().filter(pk=pk_or_404(pk)).first()
        if assignment is None or not (
            assignment.artist_id == request.user.pk
            or can_review(user=request.user, program_id=assignment.task.program_id)
        ):
            raise Http404("No such assignment.")
        return assignment


class EarningsView(APIView):
    """The requesting artist's balance (earned, unpaid, paid; minor units) and every
    ledger line with its source and the rate applied. `balance` equals the ledger sum."""

    permission_classes = DEFAULT_PERMISSIONS

    @extend_schema(responses=s.EarningsSerializer)
    def get(self, request):
        earnings = earnings_for(artist=request.user)
        return Response(
            s.EarningsSerializer(
                {
                    "currency": earnings.currency,
                    "balance": earnings.balance,
                    "balances": earnings.balances,
                    "lines": earnings.lines,
                },
                context={"request": request},
            ).data
        )


SEVERITY_DESCRIPTIONS = {
    Severity.LOW: "Cosmetic or minor: the output is usable and does what was asked.",
    Severity.MEDIUM: "Noticeably wrong in part: the output needs another try or editing.",
    Severity.HIGH: "The output is unusable or ignores the request.",
    Severity.CRITICAL: "Harmful, unsafe or leaking content, or the model cannot be used at all.",
}


class ProgramSeveritiesView(APIView):
    """The severities a finding of this program is filed under, with the bounty the
    program's published rate card pays per accepted report (null before one is published)."""

    permission_classes = DEFAULT_PERMISSIONS

    @extend_schema(responses=s.SeveritySerializer(many=True))
    def get(self, request, pk=None):
        from payments.selectors import current_rate_card

        program = visible_program_or_404(request.user, pk)
        card = current_rate_card(program_id=program.pk)
        rows = [
            {
                "code": value,
                "label": label,
                "description": SEVERITY_DESCRIPTIONS.get(value, ""),
                "bounty": card.bounty_for(value) if card else None,
                "currency": card.currency if card else None,
            }
            for value, label in Severity.choices
        ]
        return Response(s.SeveritySerializer(rows, many=True).data)
