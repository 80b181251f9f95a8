"""GET /api/v1/me/export/: the same ZIP as "Download all your data", for a token with the
read scope (reads need `read`; see tester_platform.api.permissions)."""
from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from tester_platform.api.permissions import TokenHasScope
from tester_platform.portal.export import export_filename, export_zip


class MeExportView(APIView):
    permission_classes = [IsAuthenticated, TokenHasScope]

    @extend_schema(
        summary="Download everything Atelier holds about you (ZIP)",
        description="One JSON file per kind of record and a CSV for the tabular ones, the audit chain head at export "
                    "time in manifest.json, and links to your own videos.",
        responses={(200, "application/zip"): OpenApiResponse(response=OpenApiTypes.BINARY)})
    def get(self, request):
        response = HttpResponse(export_zip(request.user), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{export_filename(request.user)}"'
        response["Cache-Control"] = "no-store"
        return response
