# Experiment: up to 4 frames in flight per view (see README.md). Run via bench.py only.
import nbagg.view as _XV

_XV.MAX_IN_FLIGHT = 4
