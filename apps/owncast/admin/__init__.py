"""Owncast's /api/admin/* endpoints (HTTP Basic `admin:<stream key>`), mounted under each base."""
