"""Perception: calibrated RGB-D views -> object masks -> 3-D boxes -> the scene state the
prompt renders (BLAZER §III-C).

``frames`` (the camera data and its calibration), ``geometry`` (back-projection, table
plane, boxes, multi-view fusion), ``segmenters`` (SAM, a weight-free one for block-world
scenes, the simulator's own as an oracle) and ``pipeline.perceive`` that joins them.
"""
