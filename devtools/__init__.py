"""Development tools, not part of the product or the engines: the local Stripe the demo and
the tests run (`python -m devtools.localstripe`) and the scale seeder for load benchmarks
(`manage.py seed_scale`, from this Django app, installed outside production). Nothing in
tester_platform, generation or payments imports it, but for the demo settings' shared
webhook secrets (see .importlinter)."""
