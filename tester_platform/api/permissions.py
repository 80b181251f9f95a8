from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated

from tester_platform.api.models import ApiToken


def token_scope_needed(view, method: str) -> str | None:
    """The scope a bearer token needs for `method` on `view`, or None: tokens refused.

    Reads need `read`, or the scope a viewset names for the action in `read_scopes` (the
    finance reports need `finance`). An unsafe method needs the scope its view names — per action in
    `action_scopes` (viewsets) or for the whole view in `required_scope` — and a view
    that names none refuses tokens: forgetting to declare a scope closes the door instead
    of opening it (tests/api/test_token_scopes.py walks every route to keep it so)."""
    if method.upper() in SAFE_METHODS:
        return getattr(view, "read_scopes", {}).get(getattr(view, "action", None), ApiToken.Scope.READ)
    action_scopes = getattr(view, "action_scopes", None)
    if action_scopes is not None:
        return action_scopes.get(getattr(view, "action", None))
    return getattr(view, "required_scope", None)


class TokenHasScope(BasePermission):
    """A token may do only what its scopes allow; a browser session may do everything its
    user may (the services' policy still decides what that is)."""

    message = "This token does not have the scope this endpoint needs."

    def has_permission(self, request, view):
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        needed = token_scope_needed(view, request.method)
        if needed is None:
            self.message = "No token can do this; use the web app, signed in."
            return False
        if needed not in token.scopes:
            self.message = f"This token lacks the '{needed}' scope this endpoint needs."
            return False
        return True


# What every API view asks unless it says otherwise: a signed-in caller (session or token),
# and a token only within its scopes.
DEFAULT_PERMISSIONS = [IsAuthenticated, TokenHasScope]
