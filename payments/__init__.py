"""ENGINE: money — rate cards, the earnings ledger, the Stripe gateway, payouts.
Imports nothing from tester_platform or generation."""
