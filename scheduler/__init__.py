"""Campaigns: specs, seed-block planning, fan-out with back-pressure, top-up, resume."""
