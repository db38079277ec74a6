"""Tests of the Locust load tests. Locust is imported here first, without gevent patching
(see tests/locust_unpatched.py)."""

from tests.locust_unpatched import locust_without_gevent_patch

with locust_without_gevent_patch():
    import locust  # noqa: F401
