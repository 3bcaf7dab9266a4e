"""Sphinx extension: the book renders each ``{eval}`` role from the result stored in its notebook.

myst-nb evaluates ``{eval}`` only while it executes a notebook itself (its ``inline``
execution mode). The book's notebooks are executed beforehand by papermill with
:class:`layerwise.site.inline.InlineEngine`, which stores every markdown cell's results in
the cell's ``user_expressions`` metadata, the format jupyterlab-myst writes. This
extension replaces myst-nb's ``eval`` role with one that reads those stored results, so
the book shows the numbers JupyterLab shows, with execution off.

A text (``text/plain``) result renders as myst-nb's ``{glue:text}`` does (bold, class
``pasted-text``); any other result through myst-nb's own output renderer. A role whose
expression has no stored result, a failed one, or one stored with two different results
in one notebook, is a warning, and the book's strict build (``-W``) fails on it.

Enable with ``sphinx: extra_extensions: [layerwise.site.sphinx_inline]`` in ``_config.yml``.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from myst_nb.core.variables import VariableOutput, create_warning, render_variable_outputs
from myst_nb.ext.utils import RoleBase

from .inline import METADATA_KEY, stored_results

_CACHE_KEY = "layerwise_user_expressions"


def _notebook_results(document: nodes.document) -> dict[str, list[dict]] | None:
    """expression -> stored results of the notebook being rendered (``None`` when the
    document is not a notebook)."""
    env = getattr(document.settings, "env", None)
    memo = env.temp_data if env is not None else {}  # Sphinx clears it after each page
    if _CACHE_KEY not in memo:
        renderer = document.get("nb_renderer")
        client = getattr(getattr(renderer, "renderer", None), "nb_client", None)
        notebook = getattr(client, "notebook", None)
        memo[_CACHE_KEY] = None if notebook is None else stored_results(notebook["cells"])
    return memo[_CACHE_KEY]


class StoredEvalRole(RoleBase):
    """``{eval}`expression``` rendered from the notebook's stored ``user_expressions``."""

    def warn(self, message: str) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        return [], [create_warning(message, self.document, self.line, subtype="eval")]

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        expr = self.text.strip()
        found = _notebook_results(self.document)
        if found is None:
            return self.warn(f"{{eval}}`{expr}` outside a notebook: nothing evaluated it")
        results = found.get(expr)
        if not results:
            return self.warn(
                f"{{eval}}`{expr}` has no stored result ({METADATA_KEY} metadata): execute the "
                "notebook with papermill's layerwise-inline engine (`make book`) or run it in "
                "JupyterLab with jupyterlab-myst, then build again"
            )
        distinct = {repr(sorted(r.get("data", {}).items())) for r in results}
        if len(distinct) > 1:
            return self.warn(
                f"{{eval}}`{expr}` has {len(distinct)} different results in this notebook; "
                "give each value its own name so that every place shows one value"
            )
        result: dict[str, Any] = results[0]
        if result.get("status") != "ok":
            return self.warn(
                f"{{eval}}`{expr}` failed: {result.get('ename', '')}: {result.get('evalue', '')}"
            )
        data = result.get("data", {})
        if set(data) == {"text/plain"}:
            text = data["text/plain"]
            node = nodes.inline(text, text, classes=["pasted-text"])
            self.set_source_info(node)
            return [node], []
        output = VariableOutput(
            data=data,
            metadata={**result.get("metadata", {}), "strip_text_quotes": True},
            nb_renderer=self.document["nb_renderer"],
            vtype="eval",
        )
        return render_variable_outputs(
            [output], self.document, self.line, self.source, inline=True
        ), []


def setup(app) -> dict[str, Any]:
    """Register the role (after myst-nb, whose ``eval`` role it replaces)."""
    app.setup_extension("myst_nb")
    app.add_role("eval", StoredEvalRole(), override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
