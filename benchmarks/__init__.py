"""XRay Viewer's benchmarks and validation probes: timings, model evaluations, experiments.

Run each from the repository root as ``python -m benchmarks.<name> ...`` (``--help`` for its
arguments); ``python -m benchmarks`` lists them. Shared helpers (the data folder, the cached
inputs of a validation split or an external folder, log-odds) are in ``benchmarks.common``;
metrics come from ``xrayviewer.model.metrics``. Finished experiments live in
``benchmarks.archive``, their results in ``benchmarks/runs/`` and the decisions they made in
``model_weights/README.md`` and ``benchmarks/RESULTS.md``. Nothing here is shipped or tested
as part of the app.
"""
