def axes_username(request, credentials=None) -> str:
    """The sign-in name for lockout counting, whichever form or API sent it."""
    credentials = credentials or {}
    name = credentials.get("username") or credentials.get("email") or credentials.get("login")
    if not name and request is not None:
        name = request.POST.get("login") or request.POST.get("email") or ""
    return (name or "").strip().lower()
