"""The embedded broker: kombu's filesystem transport, made safe for several processes.

Kombu's stock filesystem transport (kombu 5.7) loses messages and kills consumers
(celery/kombu#1551): `_put` creates the message file and only then locks and writes it,
while `_get` moves any matching file out of the queue folder without looking at the lock.
A consumer that lists the folder between the create and the write takes an empty file,
fails to decode it and raises (the Celery worker stops with "Unrecoverable error"), and the
producer's write then lands in the moved file, which is deleted: that message is gone.

This transport keeps kombu's layout and semantics (one `.msg` file per message, ordered
by name, fanout through the exchange tables in `control_folder`, `store_processed`) and
changes three things:

* put: the whole message is written to a file in `staging_folder` (a sibling of the
  queue folder, on the same filesystem) and then `os.rename`d into the queue folder, so a
  consumer only ever sees complete messages;
* get: a message is claimed by an `os.rename` into `processed_folder` (under var/, never
  the system temp folder, so the claim is one atomic rename and exactly one consumer wins
  it); an empty or undecodable file is moved to `quarantine_folder`, logged with its
  name, and the consumer goes on with the next message instead of dying;
* exchange tables: updated under a lock file and replaced atomically, so a reader never
  sees a table half rewritten.

Registered with kombu as the `atelierfs://` scheme when this module is imported; the
settings import it whenever the broker URL is `atelierfs://` (the default) or
`filesystem://`, which maps here too (see the README, "The embedded broker").
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property

logger = logging.getLogger(__name__)

SCHEME = "atelierfs"
TRANSPORT_ALIASES.setdefault(SCHEME, "tester_platform.broker:Transport")

#: Folders under the broker folder (var/broker/ in the demo).
FOLDERS = ("queue", "staging", "processed", "quarantine", "control")


def transport_options(folder: Path | str, *, polling_interval: float = 0.05) -> dict:
    """The transport options for a broker living in `folder` (created if missing): one
    queue folder both ways, since the transport delivers by moving files out of it."""
    folder = Path(folder).resolve()
    for name in FOLDERS:
        (folder / name).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "staging_folder": str(folder / "staging"),
        "processed_folder": str(folder / "processed"),
        "quarantine_folder": str(folder / "quarantine"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        "polling_interval": polling_interval,
    }


def decode_message(raw: bytes) -> tuple[dict | None, str | None]:
    """(payload, None) for a message file kombu can deliver, else (None, what is wrong)."""
    if not raw:
        return None, "empty"
    try:
        payload = loads(bytes_to_str(raw))
    except Exception as exc:  # any decoding failure: invalid UTF-8, invalid JSON, a bad type marker
        return None, f"undecodable ({type(exc).__name__}: {exc})"
    properties = payload.get("properties") if isinstance(payload, dict) else None
    if not isinstance(properties, dict) or "delivery_tag" not in properties:
        return None, "not a kombu message (no properties.delivery_tag)"
    return payload, None


def _sibling(folder: str, name: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(folder)), name)


class Channel(filesystem.Channel):
    """Filesystem channel with atomic puts, atomic claims and a quarantine."""

    # --- folders ---------------------------------------------------------------------
    @cached_property
    def staging_folder(self) -> str:
        return self.transport_options.get("staging_folder") or _sibling(self.data_folder_out, "staging")

    @cached_property
    def processed_folder(self) -> str:
        # kombu defaults to ./processed, and to the system temp folder for claims when
        # store_processed is off: a rename there may cross filesystems (a copy, not atomic).
        return self.transport_options.get("processed_folder") or _sibling(self.data_folder_in, "processed")

    @cached_property
    def quarantine_folder(self) -> str:
        return self.transport_options.get("quarantine_folder") or _sibling(self.data_folder_in, "quarantine")

    @cached_property
    def fsync(self) -> bool:
        """fsync each message before it becomes visible: survives power loss, costs a disk flush."""
        return bool(self.transport_options.get("fsync", False))

    @cached_property
    def _checked_folders(self) -> bool:
        pairs = (
            (self.staging_folder, self.data_folder_out),
            (self.processed_folder, self.data_folder_in),
            (self.quarantine_folder, self.data_folder_in),
        )
        for folder in {
            self.staging_folder,
            self.processed_folder,
            self.quarantine_folder,
            self.data_folder_in,
            self.data_folder_out,
        }:
            os.makedirs(folder, exist_ok=True)
        for folder, queue_folder in pairs:
            if os.stat(folder).st_dev != os.stat(queue_folder).st_dev:
                raise ChannelError(
                    f"Broker folder {folder!r} is not on the filesystem of {queue_folder!r}: "
                    "messages move between them by rename, which must not cross filesystems"
                )
        return True

    # --- messages --------------------------------------------------------------------
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`: written whole in the staging folder, then renamed in."""
        self._checked_folders  # noqa: B018 (creates and checks the folders once)
        # kombu's name (monotonic ms, uuid, queue), the time zero-padded so names keep
        # sorting in time order when the number of digits grows.
        name = f"{int(round(monotonic() * 1000)):015d}_{uuid.uuid4()}.{queue}.msg"
        staged = os.path.join(self.staging_folder, name)
        data = memoryview(str_to_bytes(dumps(payload)))
        try:
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                while data:
                    data = data[os.write(fd, data) :]
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(staged, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(staged)
            raise ChannelError(f"Cannot add message {name!r} to {self.data_folder_out!r}: {exc}") from exc

    def _get(self, queue):
        """Claim, read and return the oldest complete message of `queue`; quarantine any
        empty or undecodable file on the way."""
        self._checked_folders  # noqa: B018 (creates and checks the folders once)
        suffix = f"{queue}.msg"
        names = sorted(n for n in os.listdir(self.data_folder_in) if n.partition(".")[2] == suffix)
        for name in names:
            claimed = os.path.join(self.processed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            except OSError as exc:
                raise ChannelError(f"Cannot claim message file {name!r}: {exc}") from exc
            try:
                with open(claimed, "rb") as f:
                    raw = f.read()
            except FileNotFoundError:
                logger.warning("broker: claimed message file %s vanished before it was read", name)
                continue
            except OSError as exc:
                raise ChannelError(f"Cannot read message file {claimed!r}: {exc}") from exc
            payload, problem = decode_message(raw)
            if problem is not None:
                self._quarantine(claimed, name, queue, problem)
                continue
            if not self.store_processed:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(claimed)
            return payload
        raise Empty()

    def _quarantine(self, claimed: str, name: str, queue: str, problem: str) -> None:
        target = os.path.join(self.quarantine_folder, name)
        try:
            os.rename(claimed, target)
        except OSError as exc:
            target = f"{claimed} (could not move it: {exc})"
        logger.error(
            "broker: message file %s on queue %r is %s; quarantined at %s, the consumer goes on",
            name,
            queue,
            problem,
            target,
        )

    # --- exchange tables (fanout) ----------------------------------------------------
    def get_table(self, exchange):
        file = self._exchange_file(exchange)
        try:
            raw = file.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc
        return self._decode_table(file, raw)

    @staticmethod
    def _decode_table(file: Path, raw: bytes) -> list:
        if not raw:
            return []
        try:
            return [filesystem.exchange_queue_t(*entry) for entry in loads(bytes_to_str(raw))]
        except Exception as exc:  # a damaged table must not stop deliveries to other exchanges
            logger.error(
                "broker: exchange table %s is undecodable (%s: %s); treated as empty", file, type(exc).__name__, exc
            )
            return []

    def _update_table(self, exchange, change, *, create: bool) -> None:
        """Read, change and atomically replace an exchange table under its lock file."""
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        try:
            with open(file.with_name(file.name + ".lock"), "ab") as lock_file:
                filesystem.lock(lock_file, filesystem.LOCK_EX)
                try:
                    try:
                        queues = self._decode_table(file, file.read_bytes())
                    except FileNotFoundError:
                        if not create:
                            return
                        queues = []
                    if not change(queues) and file.exists():
                        return
                    temp = file.with_name(f".{file.name}.{uuid.uuid4().hex}.tmp")
                    temp.write_bytes(str_to_bytes(dumps(queues)))
                    os.replace(temp, file)
                finally:
                    filesystem.unlock(lock_file)
        except OSError as exc:
            raise ChannelError(f"Cannot update {file}: {exc}") from exc

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def add(queues):
            if entry in queues:
                return False
            queues.insert(0, entry)
            return True

        self._update_table(exchange, add, create=True)

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def remove(queues):
            if entry not in queues:
                return False
            queues.remove(entry)
            return True

        self._update_table(exchange, remove, create=False)


class Transport(filesystem.Transport):
    """Filesystem transport with atomic puts and claims (see the module docstring)."""

    Channel = Channel
    driver_type = "filesystem"
    driver_name = SCHEME
    #: Binding state per control folder. kombu keeps one per process for the transport,
    #: so a second broker folder in the same process (tests, tools) would believe its
    #: queues already bound and never write their exchange tables.
    _states: dict[str, virtual.BrokerState] = {}

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        folder = os.path.abspath((client.transport_options or {}).get("control_folder", "control"))
        self.state = self._states.setdefault(folder, virtual.BrokerState())


def is_embedded(url: str) -> bool:
    """Whether a broker URL names the embedded filesystem broker (this transport)."""
    return url.startswith((f"{SCHEME}://", "filesystem://"))


__all__ = ("SCHEME", "Transport", "Channel", "transport_options", "decode_message", "is_embedded")
