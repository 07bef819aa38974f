"""Find a TFLite interpreter: ai-edge-litert, else tflite-runtime (never TensorFlow, so it runs on a Pi)."""
from __future__ import annotations

from pathlib import Path

from .errors import MobiledeployError


def interpreter_module():
    """The interpreter module and the runtime's name and version."""
    try:
        from ai_edge_litert import interpreter as mod
        import ai_edge_litert

        return mod, "ai-edge-litert", getattr(ai_edge_litert, "__version__", "?")
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter as mod
        import tflite_runtime

        return mod, "tflite-runtime", getattr(tflite_runtime, "__version__", "?")
    except ImportError:
        raise MobiledeployError("no TFLite runtime: pip install ai-edge-litert "
                                "(or tflite-runtime, which lacks Python 3.11 aarch64 wheels)") from None


def is_utf8(path) -> bool:
    """Whether a path's name is UTF-8 text (a name from another encoding holds surrogate escapes, which the TFLite
    and onnxruntime bindings refuse with a dump of their signatures)."""
    try:
        str(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def model_bytes(path) -> bytes:
    """A model file's bytes, for a runtime that cannot be given its name."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise MobiledeployError(f"cannot read model file {path}: {exc.strerror or exc}") from None


def open_interpreter(path: Path, threads: int | None = None, delegates: bool = True):
    """A ready (allocated) interpreter; `delegates=False` skips XNNPACK so constant tensors stay readable."""
    mod, _, _ = interpreter_module()
    kwargs = {"model_path": str(path), "num_threads": threads}
    if not delegates and hasattr(mod, "OpResolverType"):
        kwargs["experimental_op_resolver_type"] = mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    if not Path(path).is_file():
        raise MobiledeployError(f"model file not found: {path}")
    if not is_utf8(path):   # the binding takes only UTF-8 text: a folder named in another encoding is read here
        kwargs.pop("model_path")
        kwargs["model_content"] = model_bytes(path)
    from .quiet import native_output_captured

    try:
        with native_output_captured():  # "Created TensorFlow Lite XNNPACK delegate" and the like
            it = mod.Interpreter(**kwargs)
            it.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MobiledeployError(f"cannot load TFLite model {path}: {first}") from None
    return it
