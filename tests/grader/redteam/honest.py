"""The honest variants: other ways to write the right answer, each of which must keep 25 / 25."""

from __future__ import annotations

from redteam.base import Transform, _replace

# --- honest variants -----------------------------------------------------------------

HONEST_RENAMED = {
    "djmodel": '''\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    """The training model, with names of my own."""
    vocabulary = densor.units
    units = LSTM_cell.units
    sequences = Input(shape=(Tx, vocabulary))
    hidden_start = Input(shape=(units,), name="a0")
    memory_start = Input(shape=(units,), name="c0")
    hidden, memory = hidden_start, memory_start
    predictions = []
    for step in range(Tx):
        column = reshaper(sequences[:, step, :])
        _, hidden, memory = LSTM_cell(column, initial_state=[hidden, memory])
        predictions.append(densor(hidden))
    return Model(inputs=[sequences, hidden_start, memory_start], outputs=predictions)
''',
    "music_inference_model": '''\
def music_inference_model(LSTM_cell, densor, Ty=100):
    """The inference model, with names of my own and expand_dims for the feedback."""
    vocabulary = densor.units
    units = LSTM_cell.units
    first_note = Input(shape=(1, vocabulary))
    hidden_start = Input(shape=(units,), name="a0")
    memory_start = Input(shape=(units,), name="c0")
    note, hidden, memory = first_note, hidden_start, memory_start
    predictions = []
    for _ in range(Ty):
        _, hidden, memory = LSTM_cell(note, initial_state=[hidden, memory])
        probabilities = densor(hidden)
        predictions.append(probabilities)
        chosen = ops.one_hot(ops.argmax(probabilities, axis=-1), vocabulary)
        note = ops.expand_dims(chosen, axis=1)
    return Model(inputs=[first_note, hidden_start, memory_start], outputs=predictions)
''',
}

HONEST_WHILE = {
    "djmodel": '''\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    """The training model with a while loop and unnamed inputs."""
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,))
    c0 = Input(shape=(n_a,))
    a, c = a0, c0
    outputs = []
    t = 0
    while t < Tx:
        x = reshaper(X[:, t, :])
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        outputs.append(densor(a))
        t += 1
    return Model(inputs=[X, a0, c0], outputs=outputs)
''',
    "music_inference_model": '''\
def music_inference_model(LSTM_cell, densor, Ty=100):
    """The inference model with a while loop; a new Reshape for the feedback at every step."""
    n_values = densor.units
    n_a = LSTM_cell.units
    x0 = Input(shape=(1, n_values))
    a0 = Input(shape=(n_a,))
    c0 = Input(shape=(n_a,))
    x, a, c = x0, a0, c0
    outputs = []
    while len(outputs) < Ty:
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        out = densor(a)
        outputs.append(out)
        x = Reshape((1, n_values))(ops.one_hot(ops.argmax(out, axis=-1), n_values))
    return Model(inputs=[x0, a0, c0], outputs=outputs)
''',
    "predict_and_sample": '''\
def predict_and_sample(inference_model, x_initializer=x_initializer,
                       a_initializer=a_initializer, c_initializer=c_initializer):
    """predict, then a while loop over the steps."""
    n_values = x_initializer.shape[2]
    pred = inference_model.predict([x_initializer, a_initializer, c_initializer], verbose=0)
    chosen = []
    t = 0
    while t < len(pred):
        chosen.append(int(np.argmax(pred[t][0])))
        t += 1
    indices = np.array(chosen).reshape(-1, 1)
    results = np.zeros((len(chosen), n_values))
    results[np.arange(len(chosen)), indices[:, 0]] = 1.0
    return results, indices
''',
}

HONEST_RESHAPE_PER_STEP = {
    "djmodel": '''\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    """A new (weightless) Reshape at every step instead of the given reshaper."""
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    a, c = a0, c0
    outputs = []
    for t in range(Tx):
        x = Reshape((1, n_values))(X[:, t, :])
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)
''',
    "predict_and_sample": '''\
def predict_and_sample(inference_model, x_initializer=x_initializer,
                       a_initializer=a_initializer, c_initializer=c_initializer):
    """The argmax of each step in a loop, one-hot by indexing an identity matrix."""
    n_values = x_initializer.shape[2]
    pred = inference_model.predict([x_initializer, a_initializer, c_initializer], verbose=0)
    indices = np.array([[int(np.argmax(step[0]))] for step in pred])
    results = np.eye(n_values)[indices[:, 0]]
    return results, indices
''',
}

HONEST_OPS_ONLY = {
    "djmodel": '''\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    """ops.expand_dims in place of the reshaper."""
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    a, c = a0, c0
    outputs = []
    for t in range(Tx):
        _, a, c = LSTM_cell(ops.expand_dims(X[:, t, :], axis=1), initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)
''',
    "music_inference_model": '''\
def music_inference_model(LSTM_cell, densor, Ty=100):
    """A one-hot of the argmax built from ops only (equal to the row maximum), no Lambda."""
    n_values = densor.units
    n_a = LSTM_cell.units
    x0 = Input(shape=(1, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    x, a, c = x0, a0, c0
    outputs = []
    for t in range(Ty):
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        out = densor(a)
        outputs.append(out)
        index = ops.argmax(out, axis=-1)
        one_hot = ops.cast(ops.equal(ops.expand_dims(index, -1), ops.arange(n_values)), "float32")
        x = ops.reshape(one_hot, (-1, 1, n_values))
    return Model(inputs=[x0, a0, c0], outputs=outputs)
''',
}

HELPER_CELL = '''\
def one_step(cell, dense, x, a, c):
    """One LSTM step from (a, c) on x, and the prediction from the new a."""
    _, a, c = cell(x, initial_state=[a, c])
    return dense(a), a, c
'''

HONEST_HELPER = {
    "djmodel": '''\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    """The training model, each step by a helper defined in a cell of my own."""
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    a, c = a0, c0
    outputs = []
    for t in range(Tx):
        out, a, c = one_step(LSTM_cell, densor, reshaper(X[:, t, :]), a, c)
        outputs.append(out)
    return Model(inputs=[X, a0, c0], outputs=outputs)
''',
    "music_inference_model": '''\
def music_inference_model(LSTM_cell, densor, Ty=100):
    """The inference model with the same helper, and RepeatVector(1) for the feedback."""
    n_values = densor.units
    n_a = LSTM_cell.units
    x0 = Input(shape=(1, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    x, a, c = x0, a0, c0
    outputs = []
    for t in range(Ty):
        out, a, c = one_step(LSTM_cell, densor, x, a, c)
        outputs.append(out)
        x = RepeatVector(1)(ops.one_hot(ops.argmax(out, axis=-1), n_values))
    return Model(inputs=[x0, a0, c0], outputs=outputs)
''',
}

STEP_AXIS_CELL = "STEP_AXIS = 1  # the time axis of X\n"

HONEST_STEP_AXIS = {
    "djmodel": '''\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    """The training model reading a constant from a cell of my own (and ops.take)."""
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    a, c = a0, c0
    outputs = []
    for t in range(Tx):
        x = reshaper(ops.take(X, t, axis=STEP_AXIS))
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)
''',
}


def _answers(answers: dict[str, str]) -> tuple[Transform, ...]:
    """Answer cells replaced by ``answers`` (function name -> cell source)."""
    return tuple(_replace(name, code) for name, code in answers.items())
