"""Benchmarks of Trestle's integrations against the local sandboxes (``python -m bench``).

Per integration: API calls per record per system, wall time against the least time the real rate
limits allow, peak memory, an incremental second run, and the recovery cost of lost responses.
"""
