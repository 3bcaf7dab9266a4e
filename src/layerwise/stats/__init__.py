"""The estimators, on plain arrays (numpy and scipy only: no torch, no cache).

- :mod:`.geometry`: self-similarity (Eq. 1, exact in O(n d)) and the top-k magnitude share
  (chapter 3);
- :mod:`.correlation`: Spearman's rho and Pearson's r per layer with bootstrap intervals
  (chapters 4-5);
- :mod:`.scores`: word similarity, ValNorm's SC-WEAT effect sizes, STS-B cosines (chapters
  4-5);
- :mod:`.isotropy`, :mod:`.postprocess`, :mod:`.paired`: IsoScore, uniformity and
  alignment, rogue dimensions, postprocessing, paired differences (chapter 7).
"""
