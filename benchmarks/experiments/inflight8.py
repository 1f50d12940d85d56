# Experiment: up to 8 frames in flight per view, an ack every 2nd (see README.md). Run via bench.py only.
import nbagg.view as _XV

_XV.MAX_IN_FLIGHT = 8
