"""Fault points for recovery tests.

``TRESTLE_CRASH_AT=<point>`` kills the process right there; ``TRESTLE_FAIL_AT=<point>`` raises
:class:`InjectedFault` there (an integration that fails while the others go on).

This is how the tests prove that a crash between a remote write and the local commit never
produces a duplicate: the process really dies (``os._exit``, no cleanup, no commit), and the
next run must finish the job. Unset in production, it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import sys

CRASH_EXIT_CODE = 70


def crash_point(name: str) -> None:
    """Exit the process immediately if ``TRESTLE_CRASH_AT`` names this point."""
    if os.environ.get("TRESTLE_CRASH_AT") == name:
        sys.stderr.write(f"trestle: crashing at {name} (TRESTLE_CRASH_AT)\n")
        sys.stderr.flush()
        os._exit(CRASH_EXIT_CODE)


class InjectedFault(RuntimeError):
    """Raised where ``TRESTLE_FAIL_AT`` names the point: a test's stand-in for an unexpected error."""


def fail_point(name: str) -> None:
    """Raise :class:`InjectedFault` if ``TRESTLE_FAIL_AT`` names this point."""
    if os.environ.get("TRESTLE_FAIL_AT") == name:
        raise InjectedFault(f"injected failure at {name} (TRESTLE_FAIL_AT)")
