"""The manipulation core: what an episode *is*, independent of any queue.

Simulator backends and their robots and tasks, teachers, the prompt (versioned), the plan
language, perception, and the rollout pipeline (reset -> scene -> prompt -> teacher -> plan ->
motion -> verdict). It imports only ``models``; the Celery shell (``worker``), the scheduler,
training and the robot runtime import it.
"""
