"""nbgrader preprocessors of this course.

``GradingExecute`` is nbgrader's ``Execute`` that leaves out the instructor's locked
cells that grading does not need (training, audio, plots, generation): grading then
runs the imports, the data, the layers, the learner's own cells and the grade cells.
It also bounds what the kernel's output can cost while the notebook runs: every
message from the kernel is cut to the limits before it joins the notebook (see
``GradingExecute``'s ``max_*`` options), so a cell printing 150 MB leaves a small
notebook with truncation notes, still graded and still given feedback.

``RestoreGradeCells`` puts grade cells a submission deleted back where the source
notebook has them, so that they run (nbgrader's own ``add_missing_cells`` fails when
the cell before a missing one is not a grade or solution cell).

Why it is one long module: every course's ``nbgrader_config.py`` names both
preprocessors from here, and the output caps are ``GradingExecute``'s own handling of
the kernel's messages, not a separate step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Integer, List, Unicode

from grader.rubric import LOCKED_CELLS_RUN_WHEN_GRADING

# --- output limits -------------------------------------------------------------------

TRUNCATED_NOTE = "[output truncated by the grader: {count:,} more bytes]"
"""Stands for the output a cell lost to ``max_cell_stream_bytes`` or
``max_notebook_output_bytes``; one per cell and stream (stdout, stderr)."""

LINE_CUT_NOTE = " [line cut by the grader: {count:,} more characters]"
"""Ends a line cut to ``max_line_chars``."""

REMOVED_NOTE = (
    "[output removed by the grader: {kinds} of {size:,} bytes, "
    "over the limit of {limit:,} bytes per output]"
)
"""Replaces a display or result larger than ``max_rich_output_bytes``."""

TRACEBACK_NOTE = "[{count:,} traceback entries removed by the grader]"
"""Stands for the entries an error's traceback lost to the limits."""

OUTPUT_OVERHEAD_BYTES = 64
"""What every kept output is charged on top of its text: its JSON framing, so that
many tiny outputs (a loop of ``print(..., flush=True)``) count too."""

ALWAYS_KEPT_BYTES = 1_000
"""A result or an error is never dropped, since nbgrader scores a grade cell from them
(an error scores 0, a result is the partial credit): past the limits one still keeps
this many bytes (a score such as ``2.0`` fits many times over)."""

_CHUNK = 1 << 20


def utf8_size(text: str) -> int:
    """The size of ``text`` in UTF-8, measured a megabyte at a time (no full copy)."""
    if text.isascii():
        return len(text)
    return sum(
        len(text[start : start + _CHUNK].encode("utf-8", "surrogatepass"))
        for start in range(0, len(text), _CHUNK)
    )


def cut_to_bytes(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding holds at most ``limit`` bytes."""
    if limit <= 0:
        return ""
    head = text[:limit]
    encoded = head.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit:
        return head
    while limit > 0 and encoded[limit] & 0xC0 == 0x80:  # back off to a character boundary
        limit -= 1
    return encoded[:limit].decode("utf-8", "surrogatepass")


def limit_text(text: str, max_bytes: int, max_line_chars: int) -> tuple[str, int]:
    """``text`` within the limits, and how many of its UTF-8 bytes were left out.

    Each line longer than ``max_line_chars`` characters keeps that many and ends with
    ``LINE_CUT_NOTE`` (what a line loses so is reported there, not in the count). The
    kept text, notes included, holds at most ``max_bytes`` bytes; from the first line
    that does not fit, the text is left out and counted (a first line too long for
    ``max_bytes`` keeps what fits of it). A limit of -1 means none. The
    text is scanned only as far as the kept part reaches, so a message of millions of
    lines costs no more than the limit.
    """
    if max_line_chars < 0 or len(text) <= max_line_chars:
        if max_bytes < 0:
            return text, 0
        kept = cut_to_bytes(text, max_bytes)
        if len(kept) < len(text) and "\n" in kept:  # stop at a line's end
            kept = kept[: kept.rindex("\n") + 1]
        return kept, (0 if len(kept) == len(text) else utf8_size(text[len(kept) :]))
    pieces: list[str] = []
    used = 0
    position = 0
    while position < len(text):
        newline = text.find("\n", position)
        end = len(text) if newline < 0 else newline + 1
        line_chars = (end - 1 if newline >= 0 else end) - position
        if line_chars > max_line_chars:
            shown = text[position : position + max_line_chars]
            piece = shown + LINE_CUT_NOTE.format(count=line_chars - max_line_chars)
            piece += "\n" if newline >= 0 else ""
        else:
            shown = piece = text[position:end]
        size = utf8_size(piece)
        if 0 <= max_bytes < used + size:
            # the first line is cut to fit; after it, the text stops at a line's end
            shown = "" if pieces else cut_to_bytes(shown, max_bytes - used)
            pieces.append(shown)
            return "".join(pieces), utf8_size(text[position + len(shown) :])
        pieces.append(piece)
        used += size
        position = end
    return "".join(pieces), 0


def data_size(data: Any) -> int:
    """The bytes a display's ``data`` or ``metadata`` takes (its strings in UTF-8).

    A mapping is measured key by key; a value that is not a string or a list of strings
    is measured as JSON, and one that cannot be written as JSON counts as too big for
    any limit.
    """
    if isinstance(data, dict):
        return sum(utf8_size(str(key)) + 8 + _value_size(value) for key, value in data.items())
    return _value_size(data)


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return utf8_size(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return sum(utf8_size(item) + 4 for item in value)
    try:
        return len(json.dumps(value, default=str))
    except (TypeError, ValueError, RecursionError):
        return 1 << 62


def limit_error(
    content: dict[str, Any], max_bytes: int, max_line_chars: int
) -> tuple[dict[str, Any], bool]:
    """An error's ``content`` (ename, evalue, traceback) cut to the limits, in place.

    The name keeps ``max_line_chars`` characters (the same cut wherever the error comes
    from, so that nbgrader still matches a reply with its output); the value keeps at
    most half of ``max_bytes``, the traceback the rest, its last entries first (where
    the error was raised). Returns the content and whether anything was cut.
    """
    ename = str(content.get("ename", ""))
    evalue = str(content.get("evalue", ""))
    traceback = [str(entry) for entry in content.get("traceback") or []]
    cut = False
    if 0 <= max_line_chars < len(ename):
        ename, cut = ename[:max_line_chars], True
    value, dropped = limit_text(evalue, max_bytes // 2 if max_bytes >= 0 else -1, max_line_chars)
    if dropped:
        value += "\n" + TRUNCATED_NOTE.format(count=dropped)
    room = max_bytes - utf8_size(value) if max_bytes >= 0 else -1
    kept: list[str] = []
    for entry in reversed(traceback):
        if max_bytes >= 0 and room <= 0:
            break
        text, dropped = limit_text(entry, room, max_line_chars)
        if dropped:
            text += "\n" + TRUNCATED_NOTE.format(count=dropped)
        kept.append(text)
        room -= utf8_size(text)
        if dropped:
            break
    if len(kept) < len(traceback):
        kept.append(TRACEBACK_NOTE.format(count=len(traceback) - len(kept)))
    kept.reverse()
    cut = cut or value != evalue or kept != traceback
    content.update(ename=ename, evalue=value, traceback=kept)
    return content, cut


def _smallest(*limits: int) -> int:
    """The tightest of ``limits``, where -1 means no limit (and -1 if none is set)."""
    set_limits = [limit for limit in limits if limit >= 0]
    return min(set_limits) if set_limits else -1


@dataclass
class _CellOutputs:
    """What one cell's outputs cost so far, and its truncation notes."""

    stream_bytes: int = 0
    total_bytes: int = 0
    markers: dict[str, NotebookNode] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    prefixes: dict[str, str] = field(default_factory=dict)


# --- cells grading runs --------------------------------------------------------------


def skipped_when_grading(cell: NotebookNode, run_locked: tuple[str, ...] | list[str]) -> bool:
    """Whether grading leaves ``cell`` out: a locked instructor code cell not in ``run_locked``.

    Grade cells, solution cells and cells without nbgrader metadata (the learner's own)
    always run. The decision reads only nbgrader metadata that ``OverwriteCells`` has
    already restored from the gradebook, so a submission cannot change it for
    instructor cells.
    """
    if cell.get("cell_type") != "code":
        return False
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if not meta or meta.get("grade") or meta.get("solution") or not meta.get("locked"):
        return False
    grade_id = meta.get("grade_id")
    return bool(grade_id) and grade_id not in run_locked


_LIMITED = frozenset({"stream", "display_data", "execute_result", "error", "update_display_data"})


class GradingExecute(Execute):
    """Execute every cell except the locked cells grading does not need, within output limits.

    The limits hold while the notebook runs: each message from the kernel is cut before
    nbclient adds it to the notebook, so a cell's output never piles up in the grading
    process (nbgrader's ``LimitOutput``, which runs afterwards, only counts lines).
    Whatever is cut leaves a note in the notebook, so the learner's feedback says so.
    A limit of -1 switches it off. Grading is unaffected: an error or a result (what
    nbgrader scores a grade cell from) is never dropped, only shortened, and stderr
    output past a limit still leaves a stderr note. One message is still received whole
    before it is cut (held only while it is cut; the kernel's memory limit bounds it).
    """

    run_locked_cells = List(
        Unicode(),
        default_value=list(LOCKED_CELLS_RUN_WHEN_GRADING),
        help="grade_ids of the locked code cells grading runs; it skips the other locked cells",
    ).tag(config=True)

    skip_note = Unicode(
        "[not run while grading: this cell does not affect the grade]\n",
        help="text put in a skipped cell's output",
    ).tag(config=True)

    max_cell_stream_bytes = Integer(
        100_000,
        help=(
            "UTF-8 bytes of stream output (stdout and stderr together) one cell keeps; the "
            "rest of each stream is left out and counted in one note per stream "
            "('[output truncated by the grader: N more bytes]'). -1: no limit."
        ),
    ).tag(config=True)

    max_line_chars = Integer(
        10_000,
        help=(
            "characters one line keeps (of stream output, of an error's name and value, of "
            "a traceback entry); a longer line is cut and ends with '[line cut by the "
            "grader: N more characters]'. Lines are cut within each message of the kernel; "
            "a line printed in many pieces is bounded by max_cell_stream_bytes. -1: no limit."
        ),
    ).tag(config=True)

    max_rich_output_bytes = Integer(
        500_000,
        help=(
            "bytes one display or result (an image, HTML, ...: all its representations and "
            "metadata together) may take; a larger one is replaced by a one-line note (a "
            "result keeps its text/plain when that is short). Also bounds one error and "
            "one widget message. -1: no limit."
        ),
    ).tag(config=True)

    max_notebook_output_bytes = Integer(
        5_000_000,
        help=(
            "bytes the outputs of the whole notebook may take; once they do, further stream "
            "output and displays are left out, counted in one note per cell and stream, and "
            "results and errors are kept shortened to about 1 kB. -1: no limit."
        ),
    ).tag(config=True)

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        """Run ``cell`` unless grading skips it (then it gets a one-line note)."""
        if skipped_when_grading(cell, self.run_locked_cells):
            cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=self.skip_note)]
            cell.execution_count = None
            return cell, resources
        return super().preprocess_cell(cell, resources, index)

    # --- output limits ---------------------------------------------------------------

    def reset_execution_trackers(self) -> None:
        """Reset nbclient's per-run state and what the outputs cost so far."""
        super().reset_execution_trackers()
        self._cell_outputs: dict[int, _CellOutputs] = {}
        self._notebook_bytes = 0

    def process_message(
        self, msg: dict[str, Any], cell: NotebookNode, cell_index: int
    ) -> NotebookNode | None:
        """Cut an output message to the limits, then let nbclient add what is left."""
        msg_type = msg.get("msg_type")
        if msg_type not in _LIMITED:
            return super().process_message(msg, cell, cell_index)
        content = msg["content"]
        if msg_type == "update_display_data":  # replaces an output: bounded, not counted
            self._limit_display(content, self.max_rich_output_bytes, result=False)
            return super().process_message(msg, cell, cell_index)
        parent = msg.get("parent_header") or {}
        hooked = bool(self.output_hook_stack.get(parent.get("msg_id")))
        budget = None
        if not hooked:  # output of an Output widget is counted for the notebook only
            if self.clear_before_next_output:
                # nbclient's delayed clear_output(wait=True), done here so the budget follows
                cell.outputs[:] = []
                self.clear_display_id_mapping(cell_index)
                self.clear_before_next_output = False
                self._forget_cell(cell_index)
            budget = self._cell_outputs.setdefault(cell_index, _CellOutputs())
        if msg_type == "stream":
            return self._stream(msg, cell, cell_index, budget)
        if msg_type == "error":
            size = self._limit_error(content)
        else:
            size = self._display(content, cell, budget, result=msg_type == "execute_result")
            if size is None:
                return None
        self._charge(budget, size)
        return super().process_message(msg, cell, cell_index)

    def clear_output(self, outs: list[NotebookNode], msg: dict[str, Any], cell_index: int) -> None:
        """nbclient's ``clear_output``; an immediate clear also frees the cell's budget."""
        parent = msg.get("parent_header") or {}
        hooked = bool(self.output_hook_stack.get(parent.get("msg_id")))
        super().clear_output(outs, msg, cell_index)
        if not hooked and not msg.get("content", {}).get("wait"):
            self._forget_cell(cell_index)

    def handle_comm_msg(
        self, outs: list[NotebookNode], msg: dict[str, Any], cell_index: int
    ) -> None:
        """nbclient's widget handling, for messages within the limits only.

        nbclient keeps every widget's state (and writes it into the notebook): a message
        carrying state counts for the notebook, and one over ``max_rich_output_bytes``
        or past ``max_notebook_output_bytes`` is ignored.
        """
        data = (msg.get("content") or {}).get("data")
        if isinstance(data, dict) and "state" in data:
            buffers = msg.get("buffers") or []
            size = data_size(data) + OUTPUT_OVERHEAD_BYTES
            size += sum(memoryview(buffer).nbytes * 4 // 3 for buffer in buffers)
            limit = _smallest(self.max_rich_output_bytes, self._notebook_room())
            if 0 <= limit < size:
                self.log.warning("Ignored a widget message of %d bytes: over the limits", size)
                return
            self._charge(None, size)
        super().handle_comm_msg(outs, msg, cell_index)

    def on_cell_executed(self, **kwargs: Any) -> None:
        """nbgrader's hook, with the reply's error cut like its output.

        nbgrader adds the reply's error to the cell when no output has its name (a
        timeout); cutting both the same way keeps the names equal.
        """
        content = (kwargs.get("execute_reply") or {}).get("content") or {}
        if content.get("status") == "error":
            self._limit_error(content)
        super().on_cell_executed(**kwargs)

    def _notebook_room(self) -> int:
        """Bytes the notebook's outputs may still take (-1: no limit)."""
        if self.max_notebook_output_bytes < 0:
            return -1
        return max(0, self.max_notebook_output_bytes - self._notebook_bytes)

    def _charge(self, budget: _CellOutputs | None, size: int, stream: bool = False) -> None:
        self._notebook_bytes += size
        if budget is not None:
            budget.total_bytes += size
            if stream:
                budget.stream_bytes += size

    def _forget_cell(self, cell_index: int) -> None:
        """The cell's outputs were cleared: what they cost is free again."""
        budget = self._cell_outputs.pop(cell_index, None)
        if budget is not None:
            self._notebook_bytes -= budget.total_bytes

    def _stream(
        self,
        msg: dict[str, Any],
        cell: NotebookNode,
        cell_index: int,
        budget: _CellOutputs | None,
    ) -> NotebookNode | None:
        """Keep what fits of a stream message; count the rest in the stream's note."""
        content = msg["content"]
        name = str(content.get("name", "stdout"))
        text = str(content.get("text", ""))
        cell_room = -1
        if budget is not None and self.max_cell_stream_bytes >= 0:
            cell_room = max(0, self.max_cell_stream_bytes - budget.stream_bytes)
        room = _smallest(self._notebook_room(), cell_room)
        if room >= 0:
            room = max(0, room - OUTPUT_OVERHEAD_BYTES)
        if budget is not None and name in budget.markers:
            # once a stream is cut in a cell, later text would read as if after the gap
            kept, dropped = "", utf8_size(text)
        else:
            kept, dropped = limit_text(text, room, self.max_line_chars)
        out = None
        if kept:
            content["text"] = kept
            self._charge(budget, utf8_size(kept) + OUTPUT_OVERHEAD_BYTES, stream=True)
            out = super().process_message(msg, cell, cell_index)
        if dropped and budget is not None:
            self._note_dropped(cell.outputs, budget, name, dropped)
        return out

    def _note_dropped(
        self, outs: list[NotebookNode], budget: _CellOutputs, name: str, count: int
    ) -> None:
        """Count ``count`` more bytes in the cell's note for stream ``name`` (added once)."""
        budget.dropped[name] = budget.dropped.get(name, 0) + count
        marker = budget.markers.get(name)
        if marker is None:
            last = outs[-1] if outs else None
            mid_line = (
                last is not None
                and last.get("output_type") == "stream"
                and last.get("name") == name
                and not str(last.get("text", "")).endswith("\n")
            )
            budget.prefixes[name] = "\n" if mid_line else ""
            marker = NotebookNode(output_type="stream", name=name, text="")
            outs.append(marker)
            budget.markers[name] = marker
            self._charge(budget, OUTPUT_OVERHEAD_BYTES + len(TRUNCATED_NOTE) + 16)
        note = TRUNCATED_NOTE.format(count=budget.dropped[name])
        marker.text = f"{budget.prefixes[name]}{note}\n"

    def _display(
        self, content: dict[str, Any], cell: NotebookNode, budget: _CellOutputs | None, result: bool
    ) -> int | None:
        """Fit a display or result to the limits; its size, or None to leave it out.

        A display that no longer fits in the notebook is left out and counted in the
        cell's stdout note; a result is kept, shortened, and what it lost without a note
        of its own is counted there too.
        """
        size, unnoted = self._limit_display(content, self.max_rich_output_bytes, result)
        room = self._notebook_room()
        if 0 <= room < size:
            if not result:
                if budget is not None:
                    self._note_dropped(cell.outputs, budget, "stdout", size)
                return None
            size, lost = self._limit_display(content, ALWAYS_KEPT_BYTES, result, note=False)
            unnoted += lost
        if unnoted and budget is not None:
            self._note_dropped(cell.outputs, budget, "stdout", unnoted)
        return size

    @staticmethod
    def _limit_display(
        content: dict[str, Any], limit: int, result: bool, note: bool = True
    ) -> tuple[int, int]:
        """Replace a display's data over ``limit`` bytes, in place.

        A display becomes a text/plain note (REMOVED_NOTE); a result keeps its
        text/plain when that fits in ``ALWAYS_KEPT_BYTES`` (nbgrader reads a grade
        cell's score there), else the note (or, with ``note`` False, the text cut to
        that size). Returns the display's size and the bytes it lost without a note.
        """
        data = content.get("data") or {}
        size = data_size(data) + data_size(content.get("metadata") or {}) + OUTPUT_OVERHEAD_BYTES
        if limit < 0 or size <= limit:
            return size, 0
        kinds = ", ".join(sorted(str(kind) for kind in data)) or "an output"
        text = REMOVED_NOTE.format(kinds=kinds, size=size, limit=limit)
        noted = True
        plain = data.get("text/plain") if isinstance(data, dict) else None
        if isinstance(plain, list):
            plain = "".join(str(line) for line in plain)
        if result and isinstance(plain, str):
            if utf8_size(plain) <= ALWAYS_KEPT_BYTES:
                text, noted = plain, False
            elif not note:
                text, noted = cut_to_bytes(plain, ALWAYS_KEPT_BYTES), False
        content["data"] = {"text/plain": text}
        content["metadata"] = {}
        new_size = utf8_size(text) + OUTPUT_OVERHEAD_BYTES
        return new_size, 0 if noted else size - new_size

    def _limit_error(self, content: dict[str, Any]) -> int:
        """Cut an error to the limits, in place (never below ``ALWAYS_KEPT_BYTES``); its size."""
        allowance = _smallest(self.max_rich_output_bytes, self._notebook_room())
        if allowance >= 0:
            allowance = max(allowance, ALWAYS_KEPT_BYTES)
        limit_error(content, allowance, self.max_line_chars)
        size = utf8_size(content["ename"]) + utf8_size(content["evalue"]) + OUTPUT_OVERHEAD_BYTES
        return size + sum(utf8_size(entry) + 4 for entry in content["traceback"])


def _grade_id(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


class RestoreGradeCells(NbGraderPreprocessor):
    """Insert the grade cells a submission lacks, each after the cell it follows in the source.

    The cell's source, points and checksum come from the gradebook; it sits after the
    nearest cell before it (in the source notebook) that the submission still has.
    """

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        """Restore missing grade cells in ``nb`` (its ids are in ``resources["nbgrader"]``)."""
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            source = gradebook.find_notebook(info["notebook"], info["assignment"])
            order = [cell.name for cell in source.source_cells]
            originals = {cell.name: (cell.source, cell.checksum) for cell in source.source_cells}
            points = {cell.name: float(cell.max_score) for cell in source.grade_cells}
        for position, name in enumerate(order):
            present = [_grade_id(cell) for cell in nb.cells]
            if name not in points or name in present:
                continue
            index = 0
            for earlier in reversed(order[:position]):
                if earlier in present:
                    index = present.index(earlier) + 1
                    break
            text, checksum = originals[name]
            self.log.warning("Grade cell %s is missing; putting it back", name)
            cell = nbformat.v4.new_code_cell(text)
            cell.metadata = NotebookNode(
                deletable=False,
                editable=False,
                nbgrader=NotebookNode(
                    cell_type="code",
                    checksum=checksum,
                    grade=True,
                    grade_id=name,
                    locked=True,
                    points=points[name],
                    schema_version=3,
                    solution=False,
                ),
            )
            nb.cells.insert(index, cell)
        return nb, resources
