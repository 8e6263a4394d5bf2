"""Bad numbers raise what docs/python.md lists, from every public function that takes one.

The "Errors" list of docs/python.md: a negative number is a ValueError; a size (or
alignment) too large for any region is an OutOfMemoryError; anything that is not an
int (float, None, and bool, which is never meant as a number here) is a TypeError; a
NUMA node or policy the machine does not have is a ValueError. Never OverflowError
(issue 12, item 11: kind.memalign(2**70, n) raised it).
"""

import pytest

import memkind_fixed as mkf

OOM = mkf.OutOfMemoryError

#: What a bad number raises, per kind of argument. None stands for "not an error".
SIZE = {-1: ValueError, -(1 << 70): ValueError, 1 << 64: OOM, 1 << 70: OOM,
        1.5: TypeError, True: TypeError, None: TypeError}
ALIGNMENT = {**SIZE, 3 << 68: ValueError}  # huge, but no power of two
NODE = {-1: ValueError, -(1 << 70): ValueError, 1 << 64: ValueError, 1 << 70: ValueError,
        1.5: TypeError, True: TypeError}  # None: no node
POLICY = dict(NODE)  # None: the default policy
ADDRESS = {-1: None, 1 << 64: None, 1 << 70: None,  # no such address is in a region
           1.5: TypeError, True: TypeError, None: TypeError}
CODE = {1 << 64: ValueError, 1 << 70: ValueError, -(1 << 70): ValueError,
        1.5: TypeError, True: TypeError, None: TypeError}


def _numpy(call):
    def needs_numpy(kind, x):
        pytest.importorskip("numpy")
        return call(kind, x)
    return needs_numpy


CALLS = {
    "FixedKind(size={})": (lambda k, x: mkf.FixedKind(size=x), SIZE),
    "FixedKind({})": (lambda k, x: mkf.FixedKind(x), SIZE),
    "FixedKind(numa_node={})": (lambda k, x: mkf.FixedKind(size=1 << 20, numa_node=x), NODE),
    "FixedKind(policy={})": (lambda k, x: mkf.FixedKind(size=1 << 20, policy=x), POLICY),
    "malloc({})": (lambda k, x: k.malloc(x), SIZE),
    "calloc({}, 8)": (lambda k, x: k.calloc(x, 8), SIZE),
    "calloc(8, {})": (lambda k, x: k.calloc(8, x), SIZE),
    "memalign({}, 64)": (lambda k, x: k.memalign(x, 64), ALIGNMENT),
    "memalign(64, {})": (lambda k, x: k.memalign(64, x), SIZE),
    "realloc(a, {})": (lambda k, x: k.realloc(k.malloc(8), x), SIZE),
    "empty({})": (_numpy(lambda k, x: k.empty(x)), SIZE),
    "zeros({})": (_numpy(lambda k, x: k.zeros(x)), SIZE),
    "zeros((2, {}))": (_numpy(lambda k, x: k.zeros((2, x), dtype="u1")), SIZE),
    "contains({})": (lambda k, x: k.contains(x), ADDRESS),
    "error_message({})": (lambda k, x: mkf.error_message(x), CODE),
}

CASES = [pytest.param(call, value, error, id=name.format(repr(value)))
         for name, (call, table) in CALLS.items()
         for value, error in table.items()]


@pytest.mark.parametrize("call,value,error", CASES)
def test_bad_number(kind, call, value, error):
    if error is None:
        assert call(kind, value) is False
        return
    with pytest.raises(error) as info:
        call(kind, value)
    assert not isinstance(info.value, OverflowError)
    if error is not OOM:
        assert not isinstance(info.value, mkf.MemkindError)


def test_huge_alignment_is_out_of_memory_like_a_huge_size(kind):
    # The case of the issue, and its neighbours on both sides of SIZE_MAX.
    for alignment in (1 << 62, 1 << 63, 1 << 64, 1 << 70):
        with pytest.raises(OOM) as info:
            kind.memalign(alignment, 64)
        assert f"memalign({alignment}, 64)" in str(info.value)
    assert kind.memalign(1 << 16, 64).address % (1 << 16) == 0  # the kind still works


def test_numpy_integers_are_numbers(kind):
    numpy = pytest.importorskip("numpy")
    assert len(kind.malloc(numpy.int64(10))) == 10
    assert len(kind.calloc(numpy.uint8(2), numpy.int32(3))) == 6
    assert kind.memalign(numpy.int64(64), numpy.uint16(8)).address % 64 == 0
    assert kind.zeros((numpy.int64(2), 3)).shape == (2, 3)
    with pytest.raises(TypeError):
        kind.malloc(numpy.bool_(True))
    with pytest.raises(TypeError):
        kind.malloc(numpy.float64(8))


@pytest.mark.parametrize("shape", [3, 1 << 64, (1 << 62, 1 << 62)])
def test_dtype_of_zero_bytes_is_a_value_error(kind, shape):
    pytest.importorskip("numpy")
    with pytest.raises(ValueError, match="0 bytes"):
        kind.zeros(shape, dtype="S0")
