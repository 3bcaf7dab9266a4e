"""What the chapters show, computed from the measurements' tidy tables: Table 1 and the
claims (:mod:`.table1`), formatted numbers and sentences (:mod:`.text`, :mod:`.prose`),
chapter 7's verdicts (:mod:`.comparison`), the figures (:mod:`.figures`,
:mod:`.comparison_figures`) and the result files with their provenance
(:mod:`.provenance`). Nothing here computes a number the tables do not hold.
"""
