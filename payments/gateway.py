"""The only module that talks to Stripe.

It builds one `stripe.StripeClient` from settings (secret key, and an optional API base for
the local Stripe server used by the demo and the tests), turns Stripe objects into plain
dicts and Stripe errors into the engine's errors: `GatewayError` when nothing was decided
(network, 5xx, rate limit: retry with the same idempotency key) and `TransferRefused`
when Stripe decided no (retrying the same request cannot change that).

Unit tests may inject an SDK HTTP client (`use_http_client`) instead of a server."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import stripe
from django.conf import settings
from stripe.params import TransferListParams

from payments.errors import GatewayError, PaymentsError, TransferRefused, WebhookSignatureInvalid

_lock = threading.Lock()
_clients: dict[tuple[Any, ...], stripe.StripeClient] = {}
_http_client_override: list[Any] = []


def _plain(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else dict(obj)


def stripe_client() -> stripe.StripeClient:
    """The StripeClient for the current settings (cached: its HTTP session keeps connections alive)."""
    if not settings.STRIPE_SECRET_KEY:
        raise GatewayError("Stripe is not configured (STRIPE_SECRET_KEY is empty).")
    http_client = _http_client_override[-1] if _http_client_override else None
    base = settings.STRIPE_API_BASE or ""
    key = (settings.STRIPE_SECRET_KEY, base, id(http_client))
    with _lock:
        client = _clients.get(key)
        if client is None:
            options: dict[str, Any] = {"max_network_retries": 0}
            if base:
                options["base_addresses"] = {"api": base.rstrip("/")}
            if http_client is not None:
                options["http_client"] = http_client
            client = stripe.StripeClient(settings.STRIPE_SECRET_KEY, **options)
            _clients[key] = client
    return client


@contextlib.contextmanager
def use_http_client(http_client: Any) -> Iterator[None]:
    """Route every SDK request through `http_client` (a `stripe.HTTPClient`) for a while."""
    _http_client_override.append(http_client)
    try:
        yield
    finally:
        _http_client_override.remove(http_client)
        with _lock:
            for key in [k for k in _clients if k[2] == id(http_client)]:
                del _clients[key]


@contextlib.contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise GatewayError(f"Stripe could not be reached: {exc.user_message or exc}") from exc
    except stripe.AuthenticationError as exc:
        raise GatewayError("Stripe refused the API key (check STRIPE_SECRET_KEY).") from exc
    except stripe.IdempotencyError as exc:
        # Same key, different request: a bug on our side, never something to retry blindly.
        raise PaymentsError(f"Stripe idempotency error: {exc.user_message or exc}") from exc
    except stripe.StripeError as exc:
        status = exc.http_status or 0
        if exc.code == "idempotency_key_in_use":
            # Another execution sends this very payout right now (a resume beside a slow
            # worker): nothing was decided for us; the payout stays pending and is retried.
            raise GatewayError("Stripe is processing the same request for another attempt; retry.") from exc
        if status >= 500 or status == 0:
            raise GatewayError(f"Stripe answered {status or 'nothing'}: {exc.user_message or exc}") from exc
        code = exc.code or (exc.error.code if exc.error is not None else "") or "refused"
        raise TransferRefused(exc.user_message or str(exc), stripe_code=code) from exc


# --- connected accounts ------------------------------------------------------------------


def account_create(*, email: str, country: str, artist_ref: str, idempotency_key: str) -> dict[str, Any]:
    """A Stripe Express account that can receive transfers."""
    with _translated_errors():
        account = stripe_client().v1.accounts.create(
            params={
                "type": "express",
                "country": country,
                "email": email,
                "capabilities": {"transfers": {"requested": True}},
                "metadata": {"atelier_artist": artist_ref},
            },
            options={"idempotency_key": idempotency_key},
        )
    return _plain(account)


def account_retrieve(*, account_id: str) -> dict[str, Any]:
    with _translated_errors():
        return _plain(stripe_client().v1.accounts.retrieve(account_id))


def account_link_create(*, account_id: str, refresh_url: str, return_url: str) -> str:
    with _translated_errors():
        link = stripe_client().v1.account_links.create(
            params={
                "account": account_id,
                "refresh_url": refresh_url,
                "return_url": return_url,
                "type": "account_onboarding",
            }
        )
    return str(link["url"])


def account_state(account: dict[str, Any]) -> dict[str, Any]:
    """What Atelier keeps of a Stripe account object."""
    requirements = account.get("requirements") or {}
    due = list(dict.fromkeys([*(requirements.get("currently_due") or []), *(requirements.get("past_due") or [])]))
    return {
        "details_submitted": bool(account.get("details_submitted")),
        "payouts_enabled": bool(account.get("payouts_enabled")),
        "requirements_due": due,
        "disabled_reason": requirements.get("disabled_reason") or "",
    }


# --- transfers -----------------------------------------------------------------------------


def transfer_create(
    *,
    amount_minor: int,
    currency: str,
    destination: str,
    transfer_group: str,
    metadata: dict[str, str],
    idempotency_key: str,
    description: str = "",
) -> dict[str, Any]:
    with _translated_errors():
        transfer = stripe_client().v1.transfers.create(
            params={
                "amount": amount_minor,
                "currency": currency.lower(),
                "destination": destination,
                "transfer_group": transfer_group,
                "metadata": metadata,
                "description": description,
            },
            options={"idempotency_key": idempotency_key},
        )
    return _plain(transfer)


def transfer_find(*, transfer_group: str) -> dict[str, Any] | None:
    """The transfer of a payout, if Stripe has one: how a resumed run learns what happened
    to a request whose answer it never recorded, before it sends anything."""
    with _translated_errors():
        found = stripe_client().v1.transfers.list(params={"transfer_group": transfer_group, "limit": 3})
    data = [_plain(t) for t in found.data]
    return data[0] if data else None


def transfer_retrieve(*, transfer_id: str) -> dict[str, Any]:
    with _translated_errors():
        return _plain(stripe_client().v1.transfers.retrieve(transfer_id))


def transfers_all(*, destination: str | None = None) -> list[dict[str, Any]]:
    """Every transfer Stripe lists (to one connected account, or all of them), newest first:
    what reconciliation compares with the ledger."""
    params: TransferListParams = {"limit": 100}
    if destination:
        params["destination"] = destination
    with _translated_errors():
        found = stripe_client().v1.transfers.list(params=params)
        return [_plain(t) for t in found.auto_paging_iter()]


# --- the connected account's payouts (its balance → its bank) ------------------------------


def account_payouts(*, account_id: str) -> list[dict[str, Any]]:
    """The payouts Stripe lists on a connected account (newest first): for reconciliation."""
    with _translated_errors():
        found = stripe_client().v1.payouts.list(params={"limit": 100}, options={"stripe_account": account_id})
        return [_plain(p) for p in found.auto_paging_iter()]


def payout_balance_transactions(*, account_id: str, payout_id: str) -> list[dict[str, Any]]:
    """What an automatic payout of a connected account carries: its balance transactions
    (`payment` ones name the transfer's py_… payment; `payout_failure` ones name the failed
    payout whose money it pays out again). Stripe's own payout reconciliation."""
    with _translated_errors():
        found = stripe_client().v1.balance_transactions.list(
            params={"payout": payout_id, "limit": 100}, options={"stripe_account": account_id}
        )
        return [_plain(t) for t in found.auto_paging_iter()]


# --- webhooks --------------------------------------------------------------------------------

PLATFORM, CONNECT = "platform", "connect"


def webhook_secret(endpoint: str) -> tuple[str, str]:
    """(setting name, secret) of an endpoint: each Stripe endpoint signs with its own secret."""
    name = "STRIPE_CONNECT_WEBHOOK_SECRET" if endpoint == CONNECT else "STRIPE_WEBHOOK_SECRET"
    return name, getattr(settings, name, "") or ""


def event_verify(*, payload: bytes, signature_header: str | None, endpoint: str = PLATFORM) -> dict[str, Any]:
    """The event, if `payload` (the raw body) carries a valid signature under the endpoint's
    own secret; else WebhookSignatureInvalid. A Connect event must name its `account`."""
    name, secret = webhook_secret(endpoint)
    if not secret:
        raise WebhookSignatureInvalid(f"Webhooks are not configured ({name} is empty).")
    if not signature_header:
        raise WebhookSignatureInvalid("The Stripe-Signature header is missing.")
    try:
        event = stripe.Webhook.construct_event(payload, signature_header, secret)
    except stripe.SignatureVerificationError:
        raise WebhookSignatureInvalid("The signature does not match the body.") from None
    except ValueError:
        raise WebhookSignatureInvalid("The body is not a JSON event.") from None
    event = _plain(event)
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise WebhookSignatureInvalid("The event has no id or type.")
    if endpoint == CONNECT and not isinstance(event.get("account"), str):
        raise WebhookSignatureInvalid("A Connect event names the connected account it is about (`account`).")
    return event


def signature_header(
    *, payload: str, secret: str | None = None, timestamp: int | None = None, endpoint: str = PLATFORM
) -> str:
    """A Stripe-Signature header for `payload` (tests and the local server's deliveries)."""
    return str(
        stripe.WebhookSignature.generate_signature_header(
            payload, secret or webhook_secret(endpoint)[1], timestamp=timestamp
        )
    )
