"""Benchmark settings: the product's, plus one bare view to measure beside it."""

from tester_platform.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.urls"
DEBUG = False
