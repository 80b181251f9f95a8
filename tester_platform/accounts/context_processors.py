from tester_platform.accounts.roles import ARTIST, STAFF_ROLES, roles_of


def roles(request):
    user_roles = roles_of(request.user) if hasattr(request, "user") else set()
    return {
        "user_roles": user_roles,
        "is_artist": ARTIST in user_roles,
        "is_staff_member": bool(user_roles & set(STAFF_ROLES)),
    }
