"""Layer-by-layer geometry and semantics of language-model embeddings (Wolfe & Caliskan 2022)."""

__version__ = "0.1.0"
