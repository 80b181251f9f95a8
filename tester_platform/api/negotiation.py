"""Operations that answer a file (a video, a PDF, a CSV) accept the client's `Accept:
video/mp4` or `application/pdf`: DRF would refuse it with 406, since its renderers speak
only JSON. The file is answered as it is; an error still comes as problem details."""

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class FileDownloadNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:  # the file's own type was asked for
            return renderers[0], renderers[0].media_type
