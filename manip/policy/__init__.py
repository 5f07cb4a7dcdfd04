"""Learned visuomotor/state policies that act step by step (closed loop), next to the LLM
teachers that write a plan once: the features they observe (``features``) and the
Diffusion Policy network and sampler (``diffusion``). Training lives in
``training.policy``; running one in the simulator in ``manip.sim.maniskill_backend``."""
