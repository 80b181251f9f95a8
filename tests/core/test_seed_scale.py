import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F

from generation.models import GenerationJob, UsageRecord
from payments.models import LedgerEntry
from tester_platform.accounts.models import User
from tester_platform.consent.models import ConsentRecord
from tester_platform.programs.models import Enrollment
from tester_platform.sharing.models import ShareRequest


@pytest.mark.django_db(transaction=True)  # the PostgreSQL path COPYs through the raw connection
def test_seed_scale_fills_every_table_realistically_and_refuses_to_run_twice(capsys):
    call_command("seed_scale", artists=40, jobs=2000, programs=2, tag="t1")
    assert User.objects.filter(email__startswith="t1-artist").count() == 40
    assert Enrollment.objects.filter(status="active").count() == 40
    assert ConsentRecord.objects.count() == 40
    assert GenerationJob.objects.count() == 2000
    assert UsageRecord.objects.count() == 2000  # one per job
    assert not UsageRecord.objects.exclude(artist_id=F("job__artist_id")).exists()
    days = GenerationJob.objects.dates("created_at", "day").count()
    assert days > 30  # history spread over weeks, not stamped "now"
    statuses = dict(ShareRequest.objects.values_list("status").annotate(n=Count("id")))
    assert statuses.get("approved") and ShareRequest.objects.count() > 10
    assert LedgerEntry.objects.count() == 40 * 12
    assert "done" in capsys.readouterr().out
    with pytest.raises(CommandError, match="exist already"):
        call_command("seed_scale", artists=1, jobs=1, tag="t1")
