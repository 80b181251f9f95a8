"""Page decorators every app's views share."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from tester_platform.accounts.roles import has_role


def role_required(*roles: str):
    """Anonymous → sign in; signed in without one of `roles` → 403."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *roles):
                raise PermissionDenied("This page is for staff.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
