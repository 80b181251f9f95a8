"""The embedded broker's transport (tester_platform/broker.py), in process: atomic puts,
atomic claims, the quarantine, and kombu's semantics kept (order by name, fanout, the
processed folder). These talk to the transport directly, whatever broker the suite uses."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue

from tester_platform import broker


def connect(folder: Path, transport: str = broker.SCHEME, **options) -> Connection:
    conn = Connection(f"{transport}://", transport_options={**broker.transport_options(folder), **options})
    conn.connect()
    return conn


def msg_files(folder: Path, sub: str) -> list[str]:
    return sorted(n for n in os.listdir(folder / sub) if n.endswith(".msg"))


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "broker"


@pytest.fixture
def conn(folder):
    with connect(folder) as conn:
        yield conn


def publish(conn: Connection, body, queue: str = "jobs"):
    conn.SimpleQueue(queue).put(body, serializer="json")


def get_body(conn: Connection, queue: str = "jobs"):
    message = conn.default_channel.basic_get(queue, no_ack=True)
    return None if message is None else message.decode()


def test_the_settings_pick_this_transport_for_the_embedded_broker():
    from django.conf import settings

    from tester_platform.celery import app

    if not settings.BROKER_EMBEDDED:
        pytest.skip(
            f"this run's broker is {settings.CELERY_BROKER_URL.split('://')[0]}://; "
            "the transport tests below run anyway"
        )
    assert settings.CELERY_BROKER_URL == "atelierfs://"
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "staging_folder", "processed_folder", "quarantine_folder", "control_folder"):
        assert Path(options[key]).parent == settings.BROKER_FOLDER and Path(options[key]).is_dir()
    with app.connection_for_write() as conn:
        assert type(conn.transport) is broker.Transport


def test_filesystem_urls_map_to_this_transport_and_redis_urls_are_untouched(tmp_path):
    import subprocess
    import sys

    code = "from django.conf import settings; print(settings.CELERY_BROKER_URL, settings.BROKER_EMBEDDED)"
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    env.update(DJANGO_SETTINGS_MODULE="tester_platform.settings", ATELIER_VAR_DIR=str(tmp_path))
    seen = {}
    for url in ("filesystem://", "atelierfs://", "redis://127.0.0.1:6379/0", None):
        run_env = dict(env) if url is None else dict(env, CELERY_BROKER_URL=url)
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=run_env,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        seen[url] = out.stdout.split()
    assert seen["filesystem://"] == ["atelierfs://", "True"]
    assert seen["atelierfs://"] == ["atelierfs://", "True"]
    assert seen[None] == ["atelierfs://", "True"]
    assert seen["redis://127.0.0.1:6379/0"] == ["redis://127.0.0.1:6379/0", "False"]


def test_a_message_travels_and_leaves_no_file_behind(conn, folder):
    publish(conn, {"n": 1})
    assert len(msg_files(folder, "queue")) == 1
    assert get_body(conn) == {"n": 1}
    assert get_body(conn) is None
    for sub in ("queue", "staging", "processed", "quarantine"):
        assert os.listdir(folder / sub) == [], sub


def test_a_message_is_never_visible_in_the_queue_folder_before_it_is_whole(conn, folder, monkeypatch):
    """The stock transport creates the file in the queue folder and writes it afterwards;
    here every write happens in staging/, and the queue folder gets the file by rename."""
    real_write = os.write
    seen_during_writes = []

    def spying_write(fd, data):
        seen_during_writes.append(msg_files(folder, "queue"))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", spying_write)
    publish(conn, {"big": "x" * 200_000})
    monkeypatch.undo()
    assert seen_during_writes and all(files == [] for files in seen_during_writes)
    assert get_body(conn) == {"big": "x" * 200_000}


def test_kombus_stock_transport_dies_on_the_empty_file_its_own_put_leaves_for_an_instant(folder, caplog):
    """What kombu's stock `_put` leaves in the queue folder between creating the file and
    writing it: an empty `.msg` file. The stock `_get` takes it and raises (a Celery worker
    stops: "Unrecoverable error"); ours quarantines it and delivers the next message.
    If this starts failing, kombu fixed celery/kombu#1551: revisit tester_platform/broker.py."""
    with connect(folder, transport="filesystem") as stock:
        publish(stock, {"n": 1})
        (folder / "queue" / f"{0:015d}_empty.jobs.msg").touch()  # sorts first
        with pytest.raises(ValueError):  # json.JSONDecodeError
            get_body(stock)
    with connect(folder) as ours, caplog.at_level(logging.ERROR, logger="tester_platform.broker"):
        (folder / "queue" / f"{0:015d}_empty2.jobs.msg").touch()
        assert get_body(ours) == {"n": 1}
    assert "000000000000000_empty2.jobs.msg" in caplog.text


def test_empty_and_undecodable_files_are_quarantined_and_the_next_message_is_delivered(conn, folder, caplog):
    queue = folder / "queue"
    bad = {
        f"{1:015d}_empty.jobs.msg": b"",
        f"{2:015d}_garbage.jobs.msg": b"\x00\xffnot json",
        f"{3:015d}_truncated.jobs.msg": b'{"body": "eyJ',
        f"{4:015d}_notamessage.jobs.msg": json.dumps({"hello": "world"}).encode(),
    }
    for name, data in bad.items():
        (queue / name).write_bytes(data)
    publish(conn, {"n": "real"})
    with caplog.at_level(logging.ERROR, logger="tester_platform.broker"):
        assert get_body(conn) == {"n": "real"}
    assert sorted(os.listdir(folder / "quarantine")) == sorted(bad)
    for name, data in bad.items():
        assert (folder / "quarantine" / name).read_bytes() == data  # kept as found, for a look
        assert name in caplog.text
    assert "empty" in caplog.text and "undecodable" in caplog.text and "not a kombu message" in caplog.text
    assert os.listdir(queue) == [] and os.listdir(folder / "processed") == []


def test_messages_come_out_in_the_order_they_were_put(conn):
    for n in range(12):
        publish(conn, {"n": n})
        time.sleep(0.002)  # names order by the millisecond, as in kombu
    assert [get_body(conn)["n"] for _ in range(12)] == list(range(12))


def test_names_keep_kombus_shape_and_sort_in_time_order(conn, folder):
    publish(conn, {"n": 1})
    (name,) = msg_files(folder, "queue")
    stamp, _, rest = name.partition("_")
    assert len(stamp) == 15 and stamp.isdigit() and rest.partition(".")[2] == "jobs.msg"


def test_fanout_reaches_every_bound_queue_and_unbinding_updates_the_table(conn, folder):
    exchange = Exchange("news", type="fanout")
    channel = conn.default_channel
    for name in ("a", "b"):
        Queue(name, exchange)(channel).declare()
    conn.Producer().publish({"hi": 1}, exchange=exchange, serializer="json", declare=[exchange])
    assert get_body(conn, "a") == {"hi": 1} and get_body(conn, "b") == {"hi": 1}
    table = json.loads((folder / "control" / "news.exchange").read_text())
    assert sorted(entry[2] for entry in table) == ["a", "b"]
    channel.queue_delete("a")
    assert [entry[2] for entry in json.loads((folder / "control" / "news.exchange").read_text())] == ["b"]
    assert [n for n in os.listdir(folder / "control") if n.endswith(".tmp")] == []


def test_a_damaged_exchange_table_is_logged_and_read_as_empty(conn, folder, caplog):
    (folder / "control").mkdir(exist_ok=True)
    (folder / "control" / "news.exchange").write_text('[["", "", "a"')
    with caplog.at_level(logging.ERROR, logger="tester_platform.broker"):
        assert conn.default_channel.get_table("news") == []
    assert "news.exchange" in caplog.text


def test_store_processed_keeps_a_copy_in_the_processed_folder(folder):
    with connect(folder, store_processed=True) as conn:
        publish(conn, {"n": 1})
        assert get_body(conn) == {"n": 1}
    (kept,) = os.listdir(folder / "processed")
    assert kept.endswith(".jobs.msg") and json.loads((folder / "processed" / kept).read_bytes())["body"]


def test_two_consumers_never_get_the_same_message(folder):
    with connect(folder) as producer:
        for n in range(200):
            publish(producer, {"n": n})
    got = []
    with connect(folder) as a, connect(folder) as b:
        while True:
            bodies = [get_body(a), get_body(b)]
            got += [body["n"] for body in bodies if body is not None]
            if bodies == [None, None]:
                break
    assert sorted(got) == list(range(200))


def test_folders_on_another_filesystem_are_refused(folder):
    shm = Path("/dev/shm")
    folder.mkdir(parents=True)
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(folder).st_dev:
        pytest.skip("no second filesystem here")
    import tempfile

    from kombu.exceptions import ChannelError

    with (
        tempfile.TemporaryDirectory(dir=shm) as other,
        connect(folder, staging_folder=other) as conn,
        pytest.raises(ChannelError, match="filesystem"),
    ):
        publish(conn, {"n": 1})
