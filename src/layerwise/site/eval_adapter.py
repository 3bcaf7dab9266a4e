"""The ``{eval}`` machinery's contact with papermill, nbclient, myst-nb and docutils.

Every use of those libraries' internals is here, so that upgrading jupyter-book (pinned
at 1.0.4), myst-nb or papermill touches this file only; the rules (which expressions, what
is stored, what is shown, the messages) are :mod:`layerwise.site.inline`'s. Its interface:

- :data:`ENGINE_NAME`: importing this module registers :class:`InlineEngine` with
  papermill under that name (``papermill.execute_notebook(..., engine_name=ENGINE_NAME)``);
- :class:`InlineExpressionError`: what that engine raises for a failing expression;
- the engine's ``progress`` keyword (``papermill.execute_notebook(..., progress=f)``):
  ``f(source)`` is called with each markdown cell's source as execution reaches it (the
  book prints a line per section heading, :func:`~layerwise.site.inline.section_headings`);
  without it the engine prints nothing;
- the engine's ``kernel_started`` keyword: ``f(group)`` is called with the kernel's
  process group once it runs (the book stops it when the build is interrupted);
- :func:`setup`: the Sphinx extension (``sphinx: extra_extensions:
  [layerwise.site.eval_adapter]`` in ``_config.yml``) whose ``{eval}`` role shows the
  stored results.

What each piece relies on:

- papermill: :class:`~papermill.clientwrap.PapermillNotebookClient` (its
  ``async_execute_cell``, which nbclient calls for every cell, markdown included),
  ``NBClientEngine.execute_managed_notebook``'s arguments (copied, with the client
  class swapped; papermill passes its extra keyword arguments, ``progress`` among them,
  through to it) and ``papermill_engines.register``;
- nbclient: ``kc.execute(..., user_expressions=...)``, ``async_wait_for_reply`` and
  ``async_start_new_kernel`` (wrapped by ``start_new_kernel``, which papermill's
  ``setup_kernel`` calls); jupyter_client: the kernel manager's ``provisioner.pgid``;
- myst-nb 1.x: ``RoleBase``, ``create_warning``, ``VariableOutput`` and
  ``render_variable_outputs`` (as its own ``eval`` role uses them), and the notebook being
  rendered at ``document["nb_renderer"].renderer.nb_client.notebook``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from docutils import nodes
from jupyter_core.utils import run_sync
from myst_nb.core.variables import VariableOutput, create_warning, render_variable_outputs
from myst_nb.ext.utils import RoleBase
from nbclient.util import ensure_async
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.exceptions import PapermillExecutionError
from papermill.utils import merge_kwargs, remove_args

from .inline import (
    ENGINE_NAME,
    METADATA_KEY,
    ExpressionFailed,
    rendering,
    stored,
    stored_results,
    user_expressions,
)

__all__ = ["ENGINE_NAME", "InlineEngine", "InlineExpressionError", "notebook_results", "setup"]


# ------------------------------------------------------------------ papermill: execution
class InlineExpressionError(PapermillExecutionError):
    """An ``{eval}`` expression of a markdown cell failed (an undefined name, an
    exception). A :class:`~papermill.exceptions.PapermillExecutionError`, so the book's
    build reports it as it reports a failing code cell (the chapter, the cell's first
    line, the error); papermill has saved the notebook up to that cell."""


class InlineNotebookClient(PapermillNotebookClient):
    """papermill's notebook client that also evaluates each markdown cell's ``{eval}``
    expressions, at the cell's place in the run, into its ``user_expressions`` metadata
    (:func:`~layerwise.site.inline.user_expressions`, :func:`~layerwise.site.inline.stored`).

    ``progress``, when given, is called with each markdown cell's source as execution
    reaches the cell (before its expressions are evaluated). ``kernel_started``, when
    given, is called with the process group of the kernel once it has started (a local
    kernel is started in a session of its own: the group holds it and its children), so
    that whoever runs the client can stop it.

    Raises:
        InlineExpressionError: an expression fails; the chapter stops there.
    """

    def __init__(
        self,
        nb_man,
        km=None,
        progress: Callable[[str], None] | None = None,
        kernel_started: Callable[[int], None] | None = None,
        **kw,
    ):
        super().__init__(nb_man, km=km, **kw)
        self.progress = progress
        self.kernel_started = kernel_started

    async def async_start_new_kernel(self, **kwargs) -> None:
        await super().async_start_new_kernel(**kwargs)
        group = getattr(getattr(self.km, "provisioner", None), "pgid", None)
        if self.kernel_started is not None and group:
            self.kernel_started(group)

    start_new_kernel = run_sync(async_start_new_kernel)  # what papermill calls

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type != "markdown":
            return await super().async_execute_cell(
                cell, cell_index, execution_count, store_history
            )
        if self.progress is not None:
            self.progress(cell.source)
        cell.metadata.pop(METADATA_KEY, None)
        named = user_expressions(cell.source)
        if not named or self.kc is None:
            return cell
        msg_id = await ensure_async(
            self.kc.execute(
                "", silent=True, store_history=False, user_expressions=named, allow_stdin=False
            )
        )
        reply = await self.async_wait_for_reply(msg_id, cell)
        results = (reply or {}).get("content", {}).get("user_expressions", {})
        try:
            cell.metadata[METADATA_KEY] = stored(named, results)
        except ExpressionFailed as err:
            raise InlineExpressionError(
                cell_index=cell_index,
                exec_count=None,
                source=cell.source,
                ename=err.ename,
                evalue=err.evalue,
                traceback=err.traceback,
            ) from err
        return cell

    execute_cell = run_sync(async_execute_cell)


class InlineEngine(NBClientEngine):
    """papermill's nbclient engine with :class:`InlineNotebookClient`; registered as
    ``layerwise-inline`` (``papermill --engine layerwise-inline`` once this module is
    imported). Its extra keywords ``progress`` and ``kernel_started`` go to the client
    (see there)."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man,
        kernel_name,
        log_output=False,
        stdout_file=None,
        stderr_file=None,
        start_timeout=60,
        execution_timeout=None,
        progress=None,
        kernel_started=None,
        **kwargs,
    ):
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        return InlineNotebookClient(
            nb_man, progress=progress, kernel_started=kernel_started, **final_kwargs
        ).execute()


papermill_engines.register(ENGINE_NAME, InlineEngine)


# ------------------------------------------------------------------ myst-nb: rendering
_CACHE_KEY = "layerwise_user_expressions"


def notebook_results(document: nodes.document) -> dict[str, list[dict]] | None:
    """expression -> stored results of the notebook myst-nb is rendering into
    ``document`` (``None`` when the document is not a notebook); read once per page."""
    env = getattr(document.settings, "env", None)
    memo = env.temp_data if env is not None else {}  # Sphinx clears it after each page
    if _CACHE_KEY not in memo:
        renderer = document.get("nb_renderer")
        client = getattr(getattr(renderer, "renderer", None), "nb_client", None)
        notebook = getattr(client, "notebook", None)
        memo[_CACHE_KEY] = None if notebook is None else stored_results(notebook["cells"])
    return memo[_CACHE_KEY]


class StoredEvalRole(RoleBase):
    """``{eval}`expression``` rendered from the notebook's stored ``user_expressions``
    (:func:`~layerwise.site.inline.rendering`)."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        shown = rendering(self.text, notebook_results(self.document))
        if shown.kind == "warning":
            return [], [create_warning(shown.text, self.document, self.line, subtype="eval")]
        if shown.kind == "text":
            node = nodes.inline(shown.text, shown.text, classes=["pasted-text"])
            self.set_source_info(node)
            return [node], []
        output = VariableOutput(
            data=shown.data,
            metadata={**shown.metadata, "strip_text_quotes": True},
            nb_renderer=self.document["nb_renderer"],
            vtype="eval",
        )
        return render_variable_outputs(
            [output], self.document, self.line, self.source, inline=True
        ), []


def setup(app) -> dict[str, Any]:
    """Sphinx extension: register the role (after myst-nb, whose ``eval`` role it
    replaces)."""
    app.setup_extension("myst_nb")
    app.add_role("eval", StoredEvalRole(), override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
