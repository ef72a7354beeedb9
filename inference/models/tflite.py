"""A thin TFLite wrapper: find the interpreter, load a model, run it on numpy arrays.

The interpreter comes from ``ai_edge_litert`` (the maintained package) or, on boards it has
no wheel for, from ``tflite_runtime``; both expose the same ``Interpreter`` API.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inference.errors import ModelError

RUNTIMES: tuple[str, ...] = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")
"""Modules tried in order for an ``Interpreter`` class."""


class ModelLoadError(ModelError):
    """A model file could not be loaded (missing, unreadable, not a TFLite model)."""


class RuntimeMissingError(ModelLoadError):
    """Neither ``ai_edge_litert`` nor ``tflite_runtime`` is installed."""


def interpreter_class() -> Any:
    """The ``Interpreter`` class of the first TFLite runtime that imports."""
    for name in RUNTIMES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return module.Interpreter
    raise RuntimeMissingError(
        "no TFLite runtime installed: pip install ai-edge-litert "
        "(or tflite-runtime on boards without an ai-edge-litert wheel)"
    )


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor: name, shape and dtype as the model declares them."""

    name: str
    index: int
    shape: tuple[int, ...]
    dtype: np.dtype[Any]


class TFLiteModel:
    """A loaded, allocated TFLite model; ``run`` feeds its inputs and returns its outputs.

    ``invocations`` counts calls to :meth:`run` (for budgets and tests). Not thread-safe:
    give each thread its own instance.
    """

    def __init__(self, path: str | Path, *, num_threads: int = 1) -> None:
        self.path = Path(path)
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        self.num_threads = num_threads
        if not self.path.is_file():
            raise ModelLoadError(f"model file not found: {self.path}")
        cls = interpreter_class()
        try:
            self._interpreter = cls(model_path=str(self.path), num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"cannot load TFLite model {self.path}: {exc}") from exc
        self.inputs = tuple(_spec(d) for d in self._interpreter.get_input_details())
        self.outputs = tuple(_spec(d) for d in self._interpreter.get_output_details())
        self.invocations = 0

    def __repr__(self) -> str:
        shapes = ", ".join(str(s.shape) for s in self.inputs)
        return f"TFLiteModel({self.path.name!r}, inputs={shapes})"

    def input_view(self, index: int = 0) -> npt.NDArray[Any]:
        """A zero-copy view of input ``index``, to fill in place before :meth:`invoke`.

        Drop every reference to it before invoking: the runtime refuses to run while a
        view of its memory is alive.
        """
        view: npt.NDArray[Any] = self._interpreter.tensor(self.inputs[index].index)()
        return view

    def output_view(self, index: int = 0) -> npt.NDArray[Any]:
        """A zero-copy view of output ``index`` after :meth:`invoke`; drop it before the
        next invoke, like :meth:`input_view`."""
        view: npt.NDArray[Any] = self._interpreter.tensor(self.outputs[index].index)()
        return view

    def invoke(self, *, copy_outputs: bool = True) -> list[npt.NDArray[Any]]:
        """Run on the inputs as they stand (set by :meth:`run` or filled through
        :meth:`input_view`); returns copies of the outputs (none with ``copy_outputs=False``:
        read them through :meth:`output_view`)."""
        interpreter = self._interpreter
        interpreter.invoke()
        self.invocations += 1
        if not copy_outputs:
            return []
        return [interpreter.get_tensor(spec.index) for spec in self.outputs]

    def run(self, *arrays: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
        """Invoke on one array per input (exact shape; cast to the input dtype); copies out."""
        if len(arrays) != len(self.inputs):
            raise ValueError(
                f"{self.path.name} takes {len(self.inputs)} input(s), got {len(arrays)}"
            )
        interpreter = self._interpreter
        for spec, array in zip(self.inputs, arrays, strict=True):
            if array.shape != spec.shape:
                raise ValueError(
                    f"{self.path.name} input {spec.name!r} wants shape {spec.shape}, "
                    f"got {array.shape}"
                )
            if array.dtype != spec.dtype or not array.flags.c_contiguous:
                array = np.ascontiguousarray(array, dtype=spec.dtype)
            interpreter.set_tensor(spec.index, array)
        return self.invoke()


def _spec(detail: dict[str, Any]) -> TensorSpec:
    return TensorSpec(
        name=str(detail["name"]),
        index=int(detail["index"]),
        shape=tuple(int(n) for n in detail["shape"]),
        dtype=np.dtype(detail["dtype"]),
    )


def load_model(path: str | Path, *, num_threads: int = 1) -> TFLiteModel:
    """Load ``path`` as a :class:`TFLiteModel` (raises :class:`ModelLoadError`)."""
    return TFLiteModel(path, num_threads=num_threads)


__all__ = [
    "RUNTIMES",
    "ModelLoadError",
    "RuntimeMissingError",
    "TFLiteModel",
    "TensorSpec",
    "interpreter_class",
    "load_model",
]
