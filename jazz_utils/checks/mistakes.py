"""The classic mistakes the checks recognise by their outputs, and what each message says.

The keys are the ways of unrolling the loop of ``jazz_utils.lstm_reference.MISTAKES``;
each message says what is wrong and how to fix it. A check compares the learner's
outputs with each mistake's, in the order of these tables, and names the first that
matches.
"""

from __future__ import annotations

TRAIN_MISTAKES = {
    "x0_every_step": (
        "X[:, 0] is fed at every step: the first time step over and over. "
        "Select the t-th step inside the loop: x = X[:, t, :]."
    ),
    "state_reset": (
        "the state is not passed on: every step starts again from a0, c0 (a, c reset to a0, c0 "
        "each step). Pass the previous step's state: _, a, c = LSTM_cell(x, initial_state=[a, c])."
    ),
    "state_zeros": (
        "the state is not passed on: every step starts from zeros (LSTM_cell called without "
        "initial_state). Pass the previous step's state: "
        "_, a, c = LSTM_cell(x, initial_state=[a, c])."
    ),
    "swap_returned": (
        "a and c are swapped: LSTM_cell returns (output, a, c) in this order, so write "
        "_, a, c = LSTM_cell(x, initial_state=[a, c])."
    ),
    "swap_passed": (
        "a and c are swapped in initial_state: the hidden state comes first, initial_state=[a, c]."
    ),
    "dense_on_c": (
        "densor is applied to the cell state c: apply it to the hidden state a, out = densor(a)."
    ),
}
"""djmodel's mistakes (teacher forcing), by way of unrolling -> message."""

INFERENCE_MISTAKES = {
    "x0_every_step": (
        "x0 is fed at every step instead of the previous prediction. After each step set x to "
        "the one-hot of the prediction's argmax, reshaped to (m, 1, n_values), and feed that "
        "x to the next step."
    ),
    "feed_probabilities": (
        "the prediction's probabilities are fed back instead of its one-hot: take "
        "ops.argmax(out, axis=-1), then ops.one_hot(..., n_values), then reshape to "
        "(m, 1, n_values)."
    ),
    **{k: v for k, v in TRAIN_MISTAKES.items() if k != "x0_every_step"},
}
"""music_inference_model's mistakes (greedy decoding), by way of unrolling -> message."""
