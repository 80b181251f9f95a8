import pytest

from tester_platform.consent.models import ConsentDocument, ConsentRecord, ImmutableRecord, body_sha256
from tester_platform.consent.services import (
    ConsentRequired,
    consent_document_publish,
    consent_required,
    consent_sign,
    consent_withdraw,
)
from tester_platform.errors import InvalidInput, InvalidTransition, NotAllowed
from tester_platform.programs.models import Enrollment
from tests.factories import ConsentDocumentFactory, enroll, make_artist, sign


@pytest.fixture
def newcomer(program):
    user = make_artist(email="new@example.test")
    enroll(user, program, status=Enrollment.Status.ONBOARDING)
    return user


def test_no_record_is_refused_by_the_service(newcomer, program):
    with pytest.raises(ConsentRequired, match="Sign"):
        consent_required(artist=newcomer, program=program)


def test_signing_activates_the_enrollment_and_the_check_passes(newcomer, program):
    record = sign(newcomer, program, training_use=True)
    assert consent_required(artist=newcomer, program=program) == record
    assert Enrollment.objects.get(artist=newcomer).status == Enrollment.Status.ACTIVE
    assert record.training_use and not record.marketing_use


def test_withdrawn_consent_is_refused_and_the_grant_stays_on_record(artist, program):
    consent_withdraw(artist=artist, program=program)
    with pytest.raises(ConsentRequired, match="withdrew"):
        consent_required(artist=artist, program=program)
    assert list(ConsentRecord.objects.filter(artist=artist).values_list("kind", flat=True)) == ["withdraw", "grant"]


def test_a_new_version_is_refused_until_signed_again(artist, program):
    v2 = ConsentDocumentFactory(program=program, version=2, published_at=None)
    consent_document_publish(document=v2, actor=None)
    with pytest.raises(ConsentRequired, match="new version"):
        consent_required(artist=artist, program=program)
    sign(artist, program)
    assert consent_required(artist=artist, program=program).document == v2
    assert ConsentRecord.objects.filter(artist=artist).count() == 2


def test_the_stored_hash_matches_the_body(artist, program):
    record = ConsentRecord.objects.get(artist=artist)
    assert record.document_sha256 == body_sha256(record.document.body) == record.document.sha256


def test_consent_to_a_version_that_is_not_current_is_refused_and_nothing_written(newcomer, program):
    before = ConsentRecord.objects.count()
    with pytest.raises(InvalidInput) as error:
        consent_sign(
            artist=newcomer,
            program=program,
            document_version=7,
            participation=True,
            training_use=False,
            marketing_use=False,
        )
    assert error.value.field == "document_version"
    assert ConsentRecord.objects.count() == before


def test_participation_is_required(newcomer, program):
    with pytest.raises(InvalidInput, match="Participation"):
        consent_sign(
            artist=newcomer,
            program=program,
            document_version=1,
            participation=False,
            training_use=True,
            marketing_use=True,
        )


def test_someone_not_enrolled_cannot_sign(outsider, program):
    with pytest.raises(NotAllowed):
        consent_sign(
            artist=outsider,
            program=program,
            document_version=1,
            participation=True,
            training_use=False,
            marketing_use=False,
        )


def test_withdrawing_twice_is_a_domain_error(artist, program):
    consent_withdraw(artist=artist, program=program)
    with pytest.raises(InvalidTransition):
        consent_withdraw(artist=artist, program=program)


def test_records_are_append_only(artist):
    record = ConsentRecord.objects.get(artist=artist)
    record.training_use = True
    with pytest.raises(ImmutableRecord):
        record.save()
    with pytest.raises(ImmutableRecord):
        ConsentRecord.objects.filter(pk=record.pk).update(training_use=True)
    with pytest.raises(ImmutableRecord):
        ConsentRecord.objects.filter(pk=record.pk).delete()


def test_a_published_document_cannot_be_edited(program):
    document = ConsentDocument.objects.get(program=program)
    document.body = "Different terms"
    with pytest.raises(ImmutableRecord):
        document.save()
