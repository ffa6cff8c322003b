"""Layer 2: crossbar batches, seeding, bias schemes, VMM."""

import numpy as np
import pytest

from xbarsim.crossbar import BiasScheme, Crossbar
from xbarsim.crossbar.array import SAMPLE_CHUNK
from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError

DEV = preset("tio2-64x64-paper")


def test_crossbar_independent_of_batching():
    whole = Crossbar.sample(DEV, (8, 8), batch=5, seed=7)
    part = Crossbar.sample(DEV, (8, 8), batch=2, seed=7, first_index=3)
    np.testing.assert_array_equal(whole.conductance[3:], part.conductance)
    np.testing.assert_array_equal(whole.v_set[3:], part.v_set)


def test_threaded_sampling_equals_one_crossbar_at_a_time():
    """A batch large enough to be drawn on several threads holds, crossbar by crossbar,
    what a batch of one draws (the unswitchable devices and initial states included)."""
    batch = 2 * SAMPLE_CHUNK + 3
    whole = Crossbar.sample(DEV, (4, 3), batch=batch, seed=11)
    for k in (0, SAMPLE_CHUNK - 1, SAMPLE_CHUNK, batch - 1):
        one = Crossbar.sample(DEV, (4, 3), batch=1, seed=11, first_index=k)
        for name in ("conductance", "v_set", "v_reset", "unswitchable"):
            np.testing.assert_array_equal(getattr(whole, name)[k], getattr(one, name)[0])
    assert not np.array_equal(whole.v_set[0], whole.v_set[SAMPLE_CHUNK])


def test_same_seed_same_arrays_other_seed_differs():
    a = Crossbar.sample(DEV, (6, 5), batch=2, seed=1)
    b = Crossbar.sample(DEV, (6, 5), batch=2, seed=1)
    c = Crossbar.sample(DEV, (6, 5), batch=2, seed=2)
    np.testing.assert_array_equal(a.v_reset, b.v_reset)
    assert not np.array_equal(a.v_reset, c.v_reset)


@pytest.mark.parametrize("scheme", list(BiasScheme))
def test_bias_scheme_reaches_the_right_devices(scheme):
    x = Crossbar.sample(DEV.without_faults().with_sigma(0.0), (5, 5), seed=0)
    x.v_set[...] = 0.8
    x.v_reset[...] = 0.8
    before = x.conductance.copy()
    x.apply_pulse(0, 2, 3, 2.0, scheme)
    delta = x.conductance[0] - before[0]
    line = np.zeros((5, 5), dtype=bool)
    line[2, :] = line[:, 3] = True
    line[2, 3] = False
    assert delta[2, 3] > 0
    if scheme is BiasScheme.NONE:
        assert np.all(delta[line] == 0)
    else:
        assert np.all(delta[line] > 0)
        assert np.all(delta[line] < delta[2, 3])
    others = ~line
    others[2, 3] = False
    if scheme is BiasScheme.V3:
        assert np.all(delta[others] < 0)
    else:
        assert np.all(delta[others] == 0)


def test_vmm_is_ohm_and_kirchhoff():
    x = Crossbar.sample(DEV, (4, 3), batch=2, seed=0)
    v = np.array([0.1, 0.0, 0.05, 0.02])
    out = x.vmm(v)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out[1], v @ x.conductance[1])
    many = x.vmm(np.stack([v, 2 * v]))
    np.testing.assert_allclose(many[:, 1], 2 * many[:, 0])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"shape": (0, 4)}, "rows"),
        ({"shape": (4, -1)}, "cols"),
        ({"shape": (4.5, 4)}, "rows"),
        ({"shape": (4, 4), "batch": 0}, "batch"),
        ({"shape": (4, 4), "seed": -1}, "seed"),
        ({"shape": (4, 4), "seed": 1.5}, "seed"),
        ({"shape": (4,)}, "shape"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    with pytest.raises(XbarsimInputError, match=field):
        Crossbar.sample(DEV, **kwargs)


def test_vmm_rejects_wrong_shape():
    x = Crossbar.sample(DEV, (4, 3), seed=0)
    with pytest.raises(XbarsimInputError, match="voltages"):
        x.vmm(np.zeros(5))
