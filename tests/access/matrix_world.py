"""One small world with an object of every kind, for the authorization matrix."""

from __future__ import annotations

from dataclasses import dataclass, field

from tester_platform.accounts.roles import ADMIN, FINANCE, MODERATOR, PROGRAM_MANAGER
from tester_platform.api.services import token_create
from tester_platform.programs.models import ProgramStaff
from tester_platform.programs.services import invitation_create
from tester_platform.sharing.services import share_request_create, share_request_decide
from tests.factories import (
    ConsentDocumentFactory,
    ProgramFactory,
    UserFactory,
    add_staff,
    enroll,
    make_artist,
    make_output,
    sign,
)

ROLES = ("anonymous", "owner", "other_artist", "moderator", "other_moderator", "manager", "finance", "admin")


@dataclass
class World:
    people: dict
    program: object
    other_program: object
    job: object
    share: object
    approved: object
    token: object
    other_token: object
    invitation_token: str
    extra: dict = field(default_factory=dict)

    def user(self, role):
        return self.people[role]


def build_world() -> World:
    program = ProgramFactory(slug="matrix", name="Matrix Program")
    ConsentDocumentFactory(program=program)
    other_program = ProgramFactory(slug="elsewhere", name="Elsewhere")
    ConsentDocumentFactory(program=other_program)
    owner = make_artist(email="owner@matrix.test")
    other = make_artist(email="other@matrix.test")
    for artist in (owner, other):
        enroll(artist, program)
        sign(artist, program)
    moderator = UserFactory(email="mod@matrix.test", roles=[MODERATOR])
    add_staff(moderator, program, ProgramStaff.Role.MODERATOR)
    other_moderator = UserFactory(email="mod-else@matrix.test", roles=[MODERATOR])
    add_staff(other_moderator, other_program, ProgramStaff.Role.MODERATOR)
    manager = UserFactory(email="manager@matrix.test", roles=[PROGRAM_MANAGER], is_staff=True)
    add_staff(manager, program, ProgramStaff.Role.MANAGER)
    finance = UserFactory(email="finance@matrix.test", roles=[FINANCE])
    admin = UserFactory(email="admin@matrix.test", roles=[ADMIN], is_staff=True, is_superuser=True)
    job = make_output(owner, program)
    share = share_request_create(artist=owner, generation_id=job.pk, caption="In review", destination="portfolio")
    approved_job = make_output(owner, program)
    approved = share_request_create(
        artist=owner, generation_id=approved_job.pk, caption="Approved", destination="press"
    )
    approved = share_request_decide(share_request=approved, moderator=moderator, decision="approve")
    token, _ = token_create(user=owner, name="owner token")
    other_token, _ = token_create(user=other, name="other token")
    _, invitation_token = invitation_create(program=program, email="invitee@matrix.test", invited_by=manager)
    people = {
        "anonymous": None,
        "owner": owner,
        "other_artist": other,
        "moderator": moderator,
        "other_moderator": other_moderator,
        "manager": manager,
        "finance": finance,
        "admin": admin,
    }
    return World(
        people=people,
        program=program,
        other_program=other_program,
        job=job,
        share=share,
        approved=approved,
        token=token,
        other_token=other_token,
        invitation_token=invitation_token,
    )
