"""models.weights: reading weights quietly."""

from __future__ import annotations


def test_tqdm_disable_silences_a_librarys_notebook_bar(monkeypatch):
    import types

    from tqdm.notebook import tqdm as notebook_tqdm

    from layerwise.models.weights import _honouring_tqdm_disable

    made = []
    library = types.SimpleNamespace(tqdm=lambda *a, **k: made.append(k) or notebook_tqdm(*a, **k))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    with _honouring_tqdm_disable(library):
        assert list(library.tqdm(range(3), desc="x")) == [0, 1, 2]
    assert made == [{"desc": "x", "disable": True}]
    original = library.tqdm
    monkeypatch.setenv("TQDM_DISABLE", "")
    with _honouring_tqdm_disable(library):
        assert library.tqdm is original  # bars stay on for a reader in JupyterLab
