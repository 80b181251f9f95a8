"""The local Stripe for the demo and the tests: localstripe (pip package, pinned), started
bound to 127.0.0.1 with its own state folder per run, plus what it lacks for Connect.

    python -m devtools.localstripe --port 8420 --app-url http://127.0.0.1:8000 \
        --webhook-secrets-file var/stripe-webhook-secrets.json

localstripe's own CLI binds every interface and pickles its state into one hard-coded
file in /tmp; this launcher imports its aiohttp app instead, points the pickle at the
run's state folder and adds routes from outside (nothing of localstripe is copied). It
produces only what Stripe's Connect produces today (transfers and payouts split, 2017):

- /v1/accounts (create, retrieve, update, list): Express accounts;
- /v1/account_links: a URL to a local onboarding page on this server which, when opened,
  marks the account details_submitted + payouts_enabled (with a working bank account),
  sends `account.updated` to the Connect endpoint and redirects to the return_url;
- /v1/transfers (create, retrieve, list by transfer_group / destination / metadata) and
  /v1/transfers/{id}/reversals: a create checks the platform balance and that the
  destination can receive transfers, moves the money into the connected account's
  balance (a `payment` balance transaction, source the transfer's py_… payment) and sends
  `transfer.created`; a reversal needs that balance to still hold the money and sends
  `transfer.reversed`. A transfer has no paid or failed state (no transfer.paid/failed);
- the connected account's payouts: on its schedule (--payout-delay-ms after money lands in
  its balance; negative: only when a test asks) an automatic payout sweeps its available
  balance to the bank: `payout.created` (pending), `payout.updated` (in_transit), then,
  --arrival-delay-ms later, `payout.paid`, or `payout.failed` with Stripe's failure code
  and message when the bank refuses it: the money returns to the account's balance (a
  `payout_failure` balance transaction), the bank account is errored and `external_account`
  is due again; payouts stop until onboarding is finished again. These events go to the
  Connect endpoint and carry `account`. With the Stripe-Account header: GET /v1/payouts,
  /v1/payouts/{id}, /v1/balance_transactions?payout=po_… and /v1/balance;
- Idempotency-Key on every POST: the same key and body give back the first answer; the
  same key with another body is a 400 `idempotency_error`, as on Stripe;
- webhooks, signed like Stripe's (t=..., v1=HMAC-SHA256) with each endpoint's own secret,
  delivered in order to the platform endpoint (--webhook-url) or the Connect endpoint
  (--connect-webhook-url), and kept in an outbox that tests can read and replay;
- test-only routes under /_atelier/: top up or set the platform balance, configure the
  webhook targets and delays, change an account's state, make its bank refuse the next
  payout, run its payout now, read the outbox, and wipe everything.

It imports nothing from Django: it is a separate process.
"""

from devtools.localstripe.state import (  # noqa: F401  (the package's names)
    DEFAULT_BALANCE_MINOR,
    ONBOARDING_REQUIREMENTS,
    PAYOUT_FAILURES,
    State,
)


def main(argv=None) -> None:
    from devtools.localstripe.cli import main as run

    run(argv)
