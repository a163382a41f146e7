"""The pooled ``json.dumps`` twin: same output, same errors, safe to share."""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from typing import Any

import pytest

from aioweb import _json

SAMPLES: list[Any] = [
    None,
    True,
    0,
    -(2**70),
    1.5,
    1e300,
    math.inf,
    -math.inf,
    math.nan,
    "",
    "plain",
    "quote \" backslash \\ newline \n tab \t nul \x00",
    "é ü 中文 😀",
    [],
    (),
    {},
    [1, [2, [3, [4]]]],
    {"message": "Hello, world"},
    {"b": 1, "a": 2, 3: "int key", 2.5: "float key", None: "null key", True: "bool key"},
    OrderedDict([("z", 1), ("y", [{"x": ()}])]),
    {"nested": {"deeper": {"list": [1.0, 2, "3", None, False]}}},
]


def test_the_pool_is_in_use_on_cpython() -> None:
    assert _json.dumps is _json._pooled_dumps


@pytest.mark.parametrize("value", SAMPLES, ids=range(len(SAMPLES)))
def test_output_equals_json_dumps(value: Any) -> None:
    assert _json.dumps(value) == json.dumps(value)


def test_unserializable_value_raises_json_dumps_error_and_the_next_call_works() -> None:
    with pytest.raises(TypeError) as ours:
        _json.dumps({"a": {"b": object()}})
    with pytest.raises(TypeError) as theirs:
        json.dumps({"a": {"b": object()}})
    assert str(ours.value) == str(theirs.value)
    assert _json.dumps({"a": {"b": 1}}) == '{"a": {"b": 1}}'


def test_circular_reference_is_refused_and_leaves_no_stale_marker() -> None:
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference detected"):
        _json.dumps(looped)
    # The failed encode left ``looped`` marked in its encoder; had that
    # encoder gone back to the pool, the now acyclic list would be refused.
    looped[:] = [1]
    assert _json.dumps(looped) == "[1]"


def test_a_reused_failed_encoder_would_refuse_the_next_value() -> None:
    """The control for the test above: stale markers are real."""
    encode = _json._new_encoder()
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValueError):
        encode(looped, 0)
    looped[:] = [1]
    with pytest.raises(ValueError, match="Circular reference detected"):
        encode(looped, 0)


def test_failed_encoder_is_dropped_from_the_pool() -> None:
    _json.dumps(1)
    ready = len(_json._ready)
    assert ready >= 1
    with pytest.raises(TypeError):
        _json.dumps([object()])
    assert len(_json._ready) == ready - 1
    assert _json.dumps([1]) == "[1]"
    assert len(_json._ready) == ready


def test_threads_encoding_at_once_get_their_own_results() -> None:
    errors: list[BaseException] = []
    payloads = [{"thread": n, "items": list(range(n, n + 50))} for n in range(8)]
    start = threading.Barrier(len(payloads))

    def work(payload: dict[str, Any]) -> None:
        try:
            start.wait()
            expected = json.dumps(payload)
            for _ in range(2000):
                if _json.dumps(payload) != expected:
                    raise AssertionError("mixed output")
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(_json._ready) <= len(payloads) + 1


def test_fast_dumps_keeps_a_custom_encoder() -> None:
    def custom(obj: Any) -> str:
        return "custom"

    assert _json.fast_dumps(json.dumps) is _json.dumps
    assert _json.fast_dumps(custom) is custom
