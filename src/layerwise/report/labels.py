"""Human names of the ids the tidy tables use (measures, tasks, samples, settings,
postprocessing methods), for axis labels, panel titles and table headers.

One mapping, :data:`LABELS` (with the dataset registry's task labels,
:data:`layerwise.data.reference.TASK_LABELS`), read by the figure functions and by the
tables chapter 7 shows; an id it does not know is shown as it is (:func:`label`)."""

from __future__ import annotations

import re

import pandas as pd

from ..data import reference

#: Tidy-table id -> the name a reader sees.
LABELS: dict[str, str] = {
    # measures (cwe_geometry, isotropy, rogue_dimensions; chapters 3 and 7)
    "self_similarity": "Self-similarity",
    "cwe_self_similarity": "Self-similarity of word embeddings",
    "isoscore": "IsoScore",
    "uniformity": "Uniformity",
    "alignment": "Alignment",
    "expected_cosine": "Expected cosine",
    "top_dimension": "Largest contributing dimension",
    # samples of chapter 7's isotropy table
    "cwe": "word embeddings (CWEs)",
    "sentences eos": "sentences, EOS token",
    "sentences mean": "sentences, mean over tokens",
    "sentences last": "sentences, last subtoken",
    # word and sentence settings (chapters 4, 5 and 7)
    "bare": "no BOS/EOS, last subtoken",
    "wrapped": "with BOS/EOS, last subtoken",
    "eos": "EOS token",
    "last": "last subtoken, nothing added",
    "mean": "mean over tokens",
    # postprocessing methods (layerwise.stats.postprocess.METHODS)
    "raw": "none (raw)",
    "centered": "mean-centred",
    "standardized": "standardized",
    "abtt": "all-but-the-top",
    # claim_checks' verdict column (chapters 3, 4 and 6)
    "direction_holds": "direction holds",
    # the registry's metrics (DATASETS[task].metric)
    "spearman": "Spearman rho",
    "pearson": "Pearson r",
    # STS-B (the word tasks' labels are the dataset registry's, read at each lookup)
    "stsb": "STS-B",
}

_SHARE = re.compile(r"top(\d+)_share(_script)?")


def label(name: object) -> str:
    """The human name of the id ``name`` (``"cwe_self_similarity"`` -> ``"Self-similarity of
    word embeddings"``; ``"top5_share"`` -> ``"Share in the top 5 dimensions"``), or
    ``str(name)`` unchanged when the id is not known."""
    text = str(name)
    if text in LABELS:
        return LABELS[text]
    if text in reference.TASK_LABELS:
        return reference.TASK_LABELS[text]
    share = _SHARE.fullmatch(text)
    if share:
        script = " (authors' script)" if share.group(2) else ""
        return f"Share in the top {share.group(1)} dimensions{script}"
    return text


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every known id among its column names, index values and index or column
    level names replaced by its :func:`label` (values inside the cells are kept). The result
    has the same shape and numbers."""
    out = df.rename(index=label, columns=label)
    out.index = out.index.set_names([_level(n) for n in out.index.names])
    out.columns = out.columns.set_names([_level(n) for n in out.columns.names])
    return out


def _level(name: object) -> object:
    return name if name is None else label(name)
