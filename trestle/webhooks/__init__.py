"""Procore's webhooks as an optional change feed for the nightly run (issue #15).

- :mod:`.tables` and :mod:`.store`: the hook Trestle registered (its secret kept only as a
  SHA-256 hash) and every delivered event, stored once per ulid;
- :mod:`.receiver`: the endpoint Procore POSTs to, mounted in the portal;
- :mod:`.feed`: which projects a per-project stream reads tonight, and when a full sweep runs;
- :mod:`.setup`: ``trestle webhooks install|status|remove``.

Off unless ``TRESTLE_SYNC_CHANGE_FEED=true``; see docs/OPERATIONS.md ("Change feed").
"""
