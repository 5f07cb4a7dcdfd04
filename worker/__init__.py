"""Rollout workers: the Celery app, the rollout pipeline, simulators, teachers, plan language."""
