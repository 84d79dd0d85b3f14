"""Fixtures of the in-process backend tests: the desk's logged-in staff (tests/support)."""

from tests.support.desk_staff import staff  # noqa: F401 (a fixture, found by name)
