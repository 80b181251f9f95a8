"""Storage faults for worker processes started by tests (selected in tests/settings.py)."""

from __future__ import annotations

import errno

from django.core.files.storage import FileSystemStorage


class FillsUpMidJobStorage(FileSystemStorage):
    """Small files (the worker's probe, a poster) are written; a video gets half its bytes
    on disk and then ENOSPC, as a disk that fills during the write does."""

    def _save(self, name, content):
        data = content.read()
        if name.startswith("_probe/") or len(data) < 2048:
            content.seek(0)
            return super()._save(name, content)
        path = self.path(name)
        import os

        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", path)
