"""Runs: which models a profile uses (:mod:`.profiles`), a run's configuration and scales
(:mod:`.config`), the table registry (:mod:`.tables`), ``reproduce`` (:mod:`.reproduce`)
and ``compare`` (:mod:`.compare`, any number of models, with a pluggable runner).
"""
