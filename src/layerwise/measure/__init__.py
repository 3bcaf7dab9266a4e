"""Measurements, each returning a tidy table: the CWE sample and its geometry (chapter 3,
:mod:`.cwe`), word tasks (chapter 4, :mod:`.words`), sentences and STS-B (chapter 5,
:mod:`.sentences`), the authors' deviations measured both ways (chapter 6,
:mod:`.ablations`) and any number of models side by side (chapter 7, :mod:`.multi`).
:mod:`.common` holds the run's :class:`~layerwise.measure.common.MeasureOptions`.
"""
