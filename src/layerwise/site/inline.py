"""Inline expressions of a chapter's markdown (the ``{eval}`` role), evaluated as JupyterLab does.

A chapter states its numbers with MyST's ``{eval}`` role: ``{eval}`text.n_pairs```. In
JupyterLab, jupyterlab-myst sends the expressions of a markdown cell to the kernel when the
cell is run (Jupyter's ``user_expressions``, part of an ``execute_request``) and keeps the
results in the cell's metadata, ``user_expressions``: a list of ``{"expression": ...,
"result": ...}``, ``result`` being the kernel's reply (``status``, and ``data`` and
``metadata`` or ``ename`` and ``evalue``).

The book's build does the same while papermill executes a chapter: :class:`InlineEngine`, a
papermill engine, runs every cell in order and, on reaching a markdown cell, evaluates its
expressions in the kernel at that point and stores the results in the same metadata. The
book then renders each role from the stored result (:mod:`layerwise.site.sphinx_inline`),
and JupyterLab shows the stored numbers of an executed copy as it shows its own. One
mechanism, two readers: a number is the value its expression has where the reader meets it.

An expression that raises stops the chapter like a failing code cell, naming the
expression and the error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from jupyter_core.utils import run_sync
from nbclient.util import ensure_async
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.exceptions import PapermillExecutionError
from papermill.utils import merge_kwargs, remove_args

#: The MyST inline role, ``{eval}`expression```.
EVAL_RE = re.compile(r"\{eval\}`([^`]+)`")
#: The markdown cell's metadata key jupyterlab-myst reads and writes.
METADATA_KEY = "user_expressions"
#: Name under which :class:`InlineEngine` is registered with papermill.
ENGINE_NAME = "layerwise-inline"


def expressions(markdown: str) -> list[str]:
    """The distinct ``{eval}`` expressions of one markdown source, in order of appearance."""
    return list(dict.fromkeys(m.strip() for m in EVAL_RE.findall(markdown)))


def stored_results(cells: Iterable[dict]) -> dict[str, list[dict]]:
    """expression -> the results stored for it in the ``user_expressions`` metadata of
    ``cells`` (a notebook's cells, as dicts), one per markdown cell that evaluated it."""
    found: dict[str, list[dict]] = {}
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        for item in cell.get("metadata", {}).get(METADATA_KEY, []) or []:
            found.setdefault(item.get("expression", ""), []).append(item.get("result", {}))
    return found


class InlineExpressionError(PapermillExecutionError):
    """An ``{eval}`` expression of a markdown cell failed (an undefined name, an
    exception). A :class:`~papermill.exceptions.PapermillExecutionError`, so the book's
    build reports it as it reports a failing code cell (the chapter, the cell's first
    line, the error); papermill has saved the notebook up to that cell."""


class InlineNotebookClient(PapermillNotebookClient):
    """papermill's notebook client that also evaluates each markdown cell's ``{eval}``
    expressions, at the cell's place in the run, into its ``user_expressions`` metadata.

    Raises:
        InlineExpressionError: an expression fails; the chapter stops there.
    """

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type != "markdown":
            return await super().async_execute_cell(
                cell, cell_index, execution_count, store_history
            )
        found = expressions(cell.source)
        cell.metadata.pop(METADATA_KEY, None)
        if not found or self.kc is None:
            return cell
        named = {str(i): expr for i, expr in enumerate(found)}
        msg_id = await ensure_async(
            self.kc.execute(
                "", silent=True, store_history=False, user_expressions=named, allow_stdin=False
            )
        )
        reply = await self.async_wait_for_reply(msg_id, cell)
        results = (reply or {}).get("content", {}).get("user_expressions", {})
        stored = []
        for key, expr in named.items():
            result = results.get(key, {"status": "error", "ename": "NoReply", "evalue": ""})
            if result.get("status") != "ok":
                raise InlineExpressionError(
                    cell_index=cell_index,
                    exec_count=None,
                    source=cell.source,
                    ename=result.get("ename", "Error"),
                    evalue=f"in the markdown's inline expression {{eval}}`{expr}`: "
                    f"{result.get('evalue', '')}",
                    traceback=result.get("traceback", []),
                )
            stored.append({"expression": expr, "result": result})
        cell.metadata[METADATA_KEY] = stored
        return cell

    execute_cell = run_sync(async_execute_cell)


class InlineEngine(NBClientEngine):
    """papermill's nbclient engine with :class:`InlineNotebookClient`; registered as
    ``layerwise-inline`` (``papermill --engine layerwise-inline`` once this package is
    installed)."""

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
        return InlineNotebookClient(nb_man, **final_kwargs).execute()


papermill_engines.register(ENGINE_NAME, InlineEngine)
