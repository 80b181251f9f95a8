from celery import shared_task
from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse

from tester_platform.consent.models import ConsentDocument
from tester_platform.programs.models import Enrollment


@shared_task(acks_late=True)
def notify_consent_version(document_id: int) -> None:
    document = ConsentDocument.objects.select_related("program").get(pk=document_id)
    program = document.program
    link = settings.SITE_URL + reverse("portal:consent", args=[program.slug])
    emails = Enrollment.objects.filter(
        program=program, status__in=[Enrollment.Status.ONBOARDING, Enrollment.Status.ACTIVE]
    ).values_list("artist__email", flat=True)
    subject = f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{program.name}: consent agreement v{document.version}"
    body = (
        f"{program.name} published version {document.version} of its consent agreement.\n"
        f"Please read it and sign again before your next generation: {link}\n"
        "Your earlier signatures stay on record."
    )
    send_mass_mail([(subject, body, None, [email]) for email in emails])
