"""RemoteMedia pipeline SDK (standard library only, Python 3.9+).

Build a pipeline in Python and serialise it to the remotemedia.pipeline/1
JSON document that rm-build packages:

    from remotemedia import Pipeline, Node, HFPipelineNode

    p = Pipeline("voice", version="1.0.0")
    vad = p.add(Node("vad", "VAD", params={"threshold": 0.5}))
    tts = p.add(HFPipelineNode("tts", model="org/tts", remote_ref="oci://r/tts:1"))
    p.connect(vad, tts)
    print(p.serialize())

Parameter values that are not plain JSON (numpy arrays, dataclasses, bytes,
other objects) are stored as separate data files (pipeline.data_files) and
replaced in the manifest by {"$data": {"path", "format", "sha256", "size",
"type"}}: .npy for arrays, JSON for dataclasses, msgpack when the msgpack
module is installed, pickle as the last resort (refused by production
runtimes).
"""

import dataclasses
import difflib
import hashlib
import io
import json
import os

__all__ = [
    "Pipeline", "Node", "HFPipelineNode", "VAD", "SpeechToText", "WhisperNode",
    "TextToSpeech", "Command", "Passthrough", "SCHEMA", "PipelineError",
    "load_data", "production_mode",
]
__version__ = "0.1.0"

SCHEMA = "remotemedia.pipeline/1"


class PipelineError(ValueError):
    """A pipeline that cannot be built: duplicate ids, unknown nodes."""


def _type_name(value):
    t = type(value)
    return "%s.%s" % (t.__module__, t.__qualname__)


def _blob(files, data, fmt, ext, value):
    digest = hashlib.sha256(data).hexdigest()
    path = "data/%s.%s" % (digest[:16], ext)
    files[path] = data
    return {"$data": {"path": path, "format": fmt, "sha256": digest,
                      "size": len(data), "type": _type_name(value)}}


def _is_ndarray(value):
    t = type(value)
    return t.__module__ == "numpy" and t.__name__ == "ndarray"


def _encode(value, files):
    """Turns a parameter value into JSON, moving complex values to files."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise PipelineError("parameter value %r is not a finite number" % value)
        return value
    if isinstance(value, (list, tuple)):
        return [_encode(v, files) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _encode(v, files) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _blob(files, bytes(value), "bytes", "bin", value)
    if _is_ndarray(value):
        import numpy  # present, since value is an ndarray
        buf = io.BytesIO()
        numpy.save(buf, value, allow_pickle=False)
        return _blob(files, buf.getvalue(), "npy", "npy", value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        try:
            text = json.dumps(dataclasses.asdict(value), sort_keys=True,
                              separators=(",", ":"), allow_nan=False)
            return _blob(files, text.encode("utf-8"), "json", "json", value)
        except (TypeError, ValueError):
            pass
    try:
        import msgpack  # optional
        data = msgpack.packb(value, use_bin_type=True)
        return _blob(files, data, "msgpack", "msgpack", value)
    except Exception:  # not installed, or the value is not msgpack-able
        pass
    import pickle
    data = pickle.dumps(value, protocol=4)
    return _blob(files, data, "pickle", "pickle", value)


def _refuse_keywords(cls, unknown, known):
    """TypeError for keywords a node does not take, with the nearest known one."""
    key = sorted(unknown)[0]
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = " (did you mean %s?)" % near[0] if near else ""
    raise TypeError("%s() got an unexpected keyword argument %r%s; node parameters "
                    "go in params={...}" % (cls, key, hint))


class Node:
    """One pipeline step.

    capabilities: what the node needs to run (gpu, cpu, memory_gb, ...);
    params: its configuration, always given as params={...}; exec: an argv
    list or a shell string for Command nodes; fallback: alternatives tried
    when it cannot run. Any other keyword is a TypeError naming the nearest
    known one, so a misspelling (capabilites=...) never passes unnoticed.
    """

    node_type = None
    _counter = 0

    def __init__(self, id=None, type=None, *, capabilities=None, params=None,
                 exec=None, fallback=None, estimated_seconds=None, host=None,
                 remote_ref=None, models=None, **unknown):
        if unknown:
            _refuse_keywords(self.__class__.__name__, unknown, self._keywords())
        node_type = type or self.node_type
        if not node_type:
            raise PipelineError("a Node needs a type")
        if id is None:
            Node._counter += 1
            id = "%s%d" % (node_type.lower(), Node._counter)
        if not isinstance(id, str) or not id:
            raise PipelineError("node id must be a non-empty string, got %r" % (id,))
        self.id = id
        self.type = node_type
        self.capabilities = dict(capabilities or {})
        self.params = dict(params or {})
        self.exec = exec
        self.fallback = list(fallback or [])
        self.estimated_seconds = estimated_seconds
        self.host = host
        self.remote_ref = remote_ref
        self.models = list(models or [])

    @classmethod
    def _keywords(cls):
        import inspect
        names = set()
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            for p in inspect.signature(init).parameters.values():
                if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self":
                    names.add(p.name)
        return sorted(names)

    def to_dict(self, files):
        d = {
            "id": self.id,
            "type": self.type,
            "capabilities": _encode(self.capabilities, files),
            "params": _encode(self.params, files),
            "fallback": _encode(self.fallback, files),
            "models": [str(m) for m in self.models],
        }
        if self.exec is not None:
            d["exec"] = self.exec if isinstance(self.exec, str) else [str(a) for a in self.exec]
        for key in ("estimated_seconds", "host", "remote_ref"):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        return d

    def __repr__(self):
        return "%s(%r, %r)" % (self.__class__.__name__, self.id, self.type)


class HFPipelineNode(Node):
    """A Hugging Face pipeline, run locally or from a remote_ref package."""

    node_type = "HFPipelineNode"

    def __init__(self, id=None, *, model=None, task=None, remote_ref=None, **kw):
        super().__init__(id, remote_ref=remote_ref, **kw)
        if model is not None:
            self.params["model"] = model
        if task is not None:
            self.params["task"] = task


class VAD(Node):
    node_type = "VAD"


class SpeechToText(Node):
    node_type = "SpeechToText"


class WhisperNode(SpeechToText):
    node_type = "WhisperNode"


class TextToSpeech(Node):
    node_type = "TextToSpeech"


class Command(Node):
    node_type = "Command"


class Passthrough(Node):
    node_type = "Passthrough"


class Pipeline:
    """Nodes and the edges between them."""

    def __init__(self, name, version="0.0.0", metadata=None):
        self.name = name
        self.version = version
        self.metadata = dict(metadata or {})
        self.nodes = []
        self.edges = []
        self.data_files = {}

    def add(self, node):
        if not isinstance(node, Node):
            raise PipelineError("add() takes a Node, got %r" % (node,))
        if any(n.id == node.id for n in self.nodes):
            raise PipelineError("duplicate node id %r" % node.id)
        self.nodes.append(node)
        return node

    def _id(self, node):
        node_id = node.id if isinstance(node, Node) else node
        if not any(n.id == node_id for n in self.nodes):
            raise PipelineError("connect(): unknown node %r (add it first)" % (node_id,))
        return node_id

    def connect(self, a, b):
        edge = [self._id(a), self._id(b)]
        if edge not in self.edges:
            self.edges.append(edge)
        return self

    def to_dict(self):
        """The manifest as a dict; complex values go to self.data_files."""
        files = {}
        doc = {
            "schema": SCHEMA,
            "name": self.name,
            "version": str(self.version),
            "metadata": _encode(self.metadata, files),
            "nodes": [n.to_dict(files) for n in self.nodes],
            "edges": [list(e) for e in self.edges],
        }
        self.data_files = files
        return doc

    def serialize(self, indent=2):
        """The JSON manifest (remotemedia.pipeline/1), keys sorted."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, allow_nan=False)


def production_mode():
    """REMOTEMEDIA_ENV decides; unset, CI means production (as the tools)."""
    env = os.environ.get("REMOTEMEDIA_ENV", "")
    if env:
        return env in ("production", "prod")
    ci = os.environ.get("CI", "")
    return ci not in ("", "false", "0")


def load_data(ref, root):
    """Load a parameter value stored as a data file of a package.

    ref is the {"$data": {...}} reference from manifest.json (or its inner
    object); root is the unpacked package directory. The file's SHA-256 is
    checked first. Pickle runs code while loading, so it is refused in
    production mode; there, store values as JSON, bytes, .npy or msgpack.
    """
    info = ref.get("$data", ref) if isinstance(ref, dict) else None
    if not isinstance(info, dict) or "path" not in info or "format" not in info:
        raise PipelineError("not a data reference: %r" % (ref,))
    rel = info["path"]
    if rel.startswith("/") or ".." in rel.split("/"):
        raise PipelineError("data path %r leaves the package" % rel)
    with open(os.path.join(root, rel), "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != info.get("sha256"):
        raise PipelineError("%s: SHA-256 does not match the manifest" % rel)
    fmt = info["format"]
    if fmt == "json":
        return json.loads(data.decode("utf-8"))
    if fmt == "bytes":
        return data
    if fmt == "npy":
        import numpy
        return numpy.load(io.BytesIO(data), allow_pickle=False)
    if fmt == "msgpack":
        import msgpack
        return msgpack.unpackb(data, raw=False)
    if fmt == "pickle":
        if production_mode():
            raise PipelineError("%s: refusing to load a pickle in production mode "
                                "(it can run arbitrary code)" % rel)
        import pickle
        return pickle.loads(data)
    raise PipelineError("%s: unknown data format %r" % (rel, fmt))
