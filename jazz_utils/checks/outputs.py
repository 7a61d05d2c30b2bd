"""Outputs: the model's outputs against the reference and against each classic mistake.

``compare_outputs`` checks the number and shapes of the outputs, then their values: equal
to the reference (within ``ATOL``/``RTOL``), or equal to a known mistake's, which it
names, or different from step t on, which it reports.
"""

from __future__ import annotations

import numpy as np

from jazz_utils.checks.cases import ATOL, RTOL, CheckSizes
from jazz_utils.errors import CheckFailure


def close(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape and equal within the checks' tolerance."""
    return a.shape == b.shape and bool(np.allclose(a, b, atol=ATOL, rtol=RTOL))


def compare_outputs(
    check: str,
    outputs: list[np.ndarray],
    reference: np.ndarray,
    mistakes: dict[str, np.ndarray],
    messages: dict[str, str],
    sizes: CheckSizes,
    steps_name: str,
) -> None:
    """Compare the model's outputs with the reference (steps, m, n_values), naming mistakes."""
    steps = reference.shape[0]
    where = sizes.describe(steps_name)
    expected_shape = reference.shape[1:]
    if len(outputs) != steps:
        if len(outputs) == 1 and steps > 1:
            if close(outputs[0], reference[-1]):
                raise CheckFailure(
                    f"{check}: only the last output returned: the model has one output, it "
                    f"needs {steps_name}={steps}. Append every step's densor output to "
                    "`outputs` inside the loop and pass the whole list: "
                    "Model(inputs=[...], outputs=outputs)."
                )
            if close(outputs[0], reference[0]):
                raise CheckFailure(
                    f"{check}: the model stops after the first step (one output instead of "
                    f"{steps_name}={steps}): is Model(...) or `return` inside the loop?"
                )
            raise CheckFailure(
                f"{check}: only one output returned, the model needs {steps_name}={steps} "
                "outputs, one per step: Model(inputs=[...], outputs=outputs)."
            )
        raise CheckFailure(
            f"{check}: with {where} the model has {len(outputs)} outputs; it needs "
            f"{steps_name}={steps}, one per step: loop over range({steps_name}) "
            f"(hard-coded number of steps?)."
        )
    for t, out in enumerate(outputs):
        if out.shape != expected_shape:
            raise CheckFailure(
                f"{check}: with {where} output {t} has shape {out.shape}; every output must be "
                f"(m, n_values) = {expected_shape}: the densor output of one step."
            )
    stacked = np.stack(outputs)
    if close(stacked, reference):
        return
    for way, mistaken in mistakes.items():
        if close(stacked, mistaken):
            raise CheckFailure(f"{check}: {messages[way]}")
    if close(stacked, reference[::-1]):
        raise CheckFailure(
            f"{check}: the outputs are in reverse order: append each step's output at the end."
        )
    wrong = [t for t in range(steps) if not close(stacked[t], reference[t])]
    biggest = float(np.abs(stacked - reference).max())
    raise CheckFailure(
        f"{check}: with {where} the outputs differ from a reference LSTM with the same weights "
        f"from step {wrong[0]} on (largest difference {biggest:.3g}). Check that each step "
        f"{'reads X[:, t, :]' if steps_name == 'Tx' else 'reads the previous prediction'}, "
        "runs LSTM_cell from the previous (a, c) and applies densor to a."
    )
