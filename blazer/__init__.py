"""blazer: simulator-verified robot-manipulation data from LLM teachers, at scale."""

__version__ = "0.1.0"
