"""What Jupyter shows when a public check fails: the diagnosis, not the checks' frames.

IPython runs the cells here in-process (``InteractiveShell.run_cell``), as a notebook's
kernel does, and prints what a notebook would display; the answers are the known-wrong
ones of ``check_answers``.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import pytest
from check_answers import dj_inputs_keyword, dj_x0_every_step
from IPython.core.interactiveshell import InteractiveShell

from jazz_utils import checks

LIBRARY_FRAMES = ("jazz_utils/checks", "jazz_utils/lstm", "site-packages", "Traceback")


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    """An IPython shell that knows the checks and two wrong answers."""
    ipython = InteractiveShell.instance()
    ipython.user_ns.update(
        checks=checks, dj_x0_every_step=dj_x0_every_step, dj_inputs_keyword=dj_inputs_keyword
    )
    yield ipython
    InteractiveShell.clear_instance()


def _displayed(shell: InteractiveShell, source: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    result = shell.run_cell(source, store_history=True)
    assert isinstance(result.error_in_exec, checks.CheckFailure)
    return capsys.readouterr().out


def test_a_wrong_answer_shows_only_the_diagnosis(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = _displayed(shell, "checks.djmodel_test(dj_x0_every_step)", capsys)
    assert shown.strip().splitlines() == [
        "CheckFailure: djmodel_test: X[:, 0] is fed at every step: the first time step over "
        "and over. Select the t-th step inside the loop: x = X[:, t, :]."
    ]


def test_an_error_in_the_learners_code_shows_the_learners_line(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = _displayed(shell, "checks.djmodel_test(dj_inputs_keyword)", capsys)
    assert shown.startswith("CheckFailure: djmodel_test: calling dj_inputs_keyword failed: ")
    assert "named `sequences`, not `inputs`" in shown
    assert "Your code, where the TypeError was raised:" in shown
    assert "check_answers.py, line" in shown and "in dj_inputs_keyword" in shown
    assert "LSTM_cell(inputs=reshaper(X[:, t, :]), initial_state=[a, c])" in shown
    assert not [frame for frame in LIBRARY_FRAMES if frame in shown], shown


def test_a_cell_of_the_learner_is_named_as_ipython_names_it(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run_cell(
        "def djmodel(Tx, LSTM_cell, densor, reshaper):\n"
        "    n_values = densor.units\n"
        "    return n_values / 0\n",
        store_history=True,
    )
    cell = shell.execution_count - 1
    shown = _displayed(shell, "checks.djmodel_test(djmodel)", capsys)
    assert "[ZeroDivisionError: division by zero]" in shown
    assert f"  Cell In[{cell}], line 3, in djmodel\n    return n_values / 0" in shown
    assert not [frame for frame in LIBRARY_FRAMES if frame in shown], shown


def test_outside_ipython_the_message_and_traceback_are_whole() -> None:
    with pytest.raises(checks.CheckFailure) as raised:
        checks.djmodel_test(dj_inputs_keyword)
    assert str(raised.value).startswith("djmodel_test: calling dj_inputs_keyword failed: ")
    printed = "".join(traceback.format_exception(raised.value))
    assert "Traceback (most recent call last)" in printed
    assert "jazz_utils/checks" in printed and "check_answers.py" in printed
