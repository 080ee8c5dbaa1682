"""Caches in front of the database: per process, and shared through Redis when configured.

Correctness never rests on Redis. A process keeps what it validated for under a second, and
entries shared through Redis are used only while the fleet's revocation generation is the
one they were read under (see ``credgate.cache.revocation``).
"""
