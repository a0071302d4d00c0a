"""Finished experiments, kept runnable: each one's decision is recorded in
model_weights/README.md and its results in benchmarks/runs/ (named in its docstring).
Run one as ``python -m benchmarks.archive.<name>``; ``--from-json`` reprints a probe's
recorded results without running a model."""
