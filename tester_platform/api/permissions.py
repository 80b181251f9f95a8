from rest_framework.permissions import BasePermission

from tester_platform.api.models import ApiToken


class TokenHasScope(BasePermission):
    """A token may do only what its scopes allow; a browser session may do everything its
    user may. Views name their scope in `required_scope` (default: read)."""

    message = "This token does not have the scope this endpoint needs."

    def has_permission(self, request, view):
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        return getattr(view, "required_scope", ApiToken.Scope.READ) in token.scopes
