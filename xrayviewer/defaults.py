"""Defaults that more than one layer states (the command line, the training panel, the
bundles that record them, the reports that describe them), each stated once.

They live here, in a module that imports nothing, because the command line prints them in
``--help`` without importing numpy, and because the model layer (which reads old bundles)
and the training layer (which writes new ones) both need the same numbers. Defaults that
only one module uses stay in that module (the overlay opacity in ``model.gradcam``, the
image extensions in ``imaging.loader``, the recipes in ``training.recipes``).
"""

#: Share of the images (whole patients) fit() holds out for validation.
VAL_FRACTION = 0.15

#: The threshold rule: the highest threshold with at least this validation sensitivity.
#: benchmarks/archive/operating_point_probe.py chose 0.98 over 0.95 by a rule fixed before it ran
#: (model_weights/README.md, "Operating point"). Site calibration uses the same target on
#: the local cases.
SENSITIVITY_TARGET = 0.98

#: The target of bundles saved before fit() recorded ``config["sensitivity_target"]``: the
#: rule of that time. Reading such a bundle (its card, a recalibration) assumes this one.
OLD_BUNDLE_SENSITIVITY_TARGET = 0.95

#: Share of the validation films the out-of-distribution check is set to flag.
OOD_FLAG_RATE = 0.05

#: Patient-level bootstrap resamples behind every stated 95% interval that is bootstrapped
#: (the card's, ``evaluate --bootstrap``'s, the local report's AUC).
BOOTSTRAP_RESAMPLES = 1000
