"""Layer 5: X-block (Table III decoder, shift register, buses) and port-driven write-verify."""

import itertools

import numpy as np
import pytest

from xbarsim.chip.xblock import (
    MODE_WORDS,
    TABLE_III,
    ControlWord,
    ShiftRegister,
    XBlock,
    bus_voltages,
    decode,
    level_shift,
)
from xbarsim.crossbar import BiasScheme, Crossbar
from xbarsim.devices import preset
from xbarsim.errors import XbarsimInputError
from xbarsim.programming import WriteVerify, program
from xbarsim.programming.port import CrossbarPort, DirectPort, Mode, program_port

DEV = preset("tio2-64x64-paper")


def _matches(expected, actual) -> bool:
    return expected is None or expected == actual


@pytest.mark.parametrize("lines", [1, 4, 5, 64])
def test_decoder_equals_table_iii_for_every_word_and_address(lines):
    """All 8 control words x every address: each word matching a Table III row gives that
    row's switch states; words in no row leave every tuning switch off."""
    for bits in itertools.product([False, True], repeat=3):
        word = ControlWord(*bits)
        rows = [r for r in TABLE_III.values() if all(map(_matches, r[:3], bits))]
        for address in range(lines):
            sw = decode(word, address, lines)
            others = np.arange(lines) != address
            assert sw.re == word.re
            if not rows:
                assert not sw.sd.any() and not sw.ud.any()
            for row in rows:
                assert sw.sd[address] == row.sel_sd and sw.ud[address] == row.sel_ud
                assert np.all(sw.sd[others] == row.unsel_sd)
                assert np.all(sw.ud[others] == row.unsel_ud)
                assert _matches(row.re_on, sw.re)


def test_table_iii_covers_seven_modes_and_no_unmatched_mode_word():
    assert set(TABLE_III) == set(Mode)
    for mode, word in MODE_WORDS.items():
        assert all(map(_matches, TABLE_III[mode][:3], word))
    # select and unselect switch never both on; inference switches only in inference/monitoring
    for bits in itertools.product([False, True], repeat=3):
        sw = decode(ControlWord(*bits), 2, 4)
        assert not (sw.sd & sw.ud).any()


@pytest.mark.parametrize("lines", [2, 3, 8, 64, 65])
def test_shift_register_serial_load_msb_first(lines):
    reg = ShiftRegister(lines)
    assert len(reg.bits) == max(1, (lines - 1).bit_length())
    for address in range(lines):
        reg.load(address)
        assert reg.address == address
    reg.load(lines - 1)
    assert reg.bits[-1] == bool((lines - 1) & 1)  # last bit clocked in is the LSB
    with pytest.raises(XbarsimInputError, match="address"):
        reg.load(lines)
    with pytest.raises(XbarsimInputError, match="address"):
        reg.load(-1)


def test_level_shifter_gives_complementary_io_levels():
    out, out_bar = level_shift([True, False])
    np.testing.assert_array_equal(out, [3.3, 0.0])
    np.testing.assert_array_equal(out_bar, [0.0, 3.3])


def _xblock(rows=5, cols=4, seed=0, **kw):
    x = Crossbar.sample(DEV, (rows, cols), batch=2, seed=seed)
    return x, XBlock(x, index=1, **kw)


@pytest.mark.parametrize("mode, sign", [(Mode.SET, 1), (Mode.FORMING, 1), (Mode.RESET, -1)])
def test_device_voltage_map_v2(mode, sign):
    _, xb = _xblock()
    for r, c in itertools.product(range(5), range(4)):
        xb.select(r, c)
        xb.set_mode(mode)
        v = xb.device_voltages(1.6)
        expect = np.zeros((5, 4))
        expect[r, :] = sign * 0.8
        expect[:, c] = sign * 0.8
        expect[r, c] = sign * 1.6
        np.testing.assert_array_equal(v, expect)


def test_read_map_and_read_value():
    x, xb = _xblock()
    xb.select(2, 3)
    xb.set_mode(Mode.READ)
    v = xb.device_voltages(0.25)
    expect = np.zeros((5, 4))
    expect[2, :] = 0.25
    np.testing.assert_array_equal(v, expect)
    assert xb.read() == x.conductance[1, 2, 3]


def test_forming_floating_unselected_cuts_current_and_keeps_kcl():
    x, xb = _xblock(rows=8, cols=8, floating_unselected=True)
    xb.select(3, 5)
    xb.set_mode(Mode.FORMING)
    v_float = xb.device_voltages(3.0)
    assert v_float[3, 5] == 3.0
    g = x.conductance[1]
    # KCL: no net current into the unselected (floating) word lines or bit lines
    rows_u = np.arange(8) != 3
    cols_u = np.arange(8) != 5
    assert abs((g[rows_u] * v_float[rows_u]).sum()) < 1e-15
    assert abs((g[:, cols_u] * v_float[:, cols_u]).sum()) < 1e-15
    xb_v2 = XBlock(x, index=1)
    xb_v2.select(3, 5)
    xb_v2.set_mode(Mode.FORMING)
    v2 = xb_v2.device_voltages(3.0)
    p_float = (g * v_float**2).sum()
    p_v2 = (g * v2**2).sum()
    assert p_float < p_v2
    assert bus_voltages(Mode.FORMING, 3.0, True).ud_wl is None
    assert bus_voltages(Mode.SET, 3.0, True).ud_wl == 1.5  # the option is forming-only


def test_inference_and_monitoring_modes():
    x, xb = _xblock(sense=lambda col, i: 1.2 - 18.4e3 * i + 0.001 * col)
    xb.set_mode(Mode.INFERENCE)
    inputs = np.array([0.1, 0.0, 0.05, 0.02, 0.1])
    np.testing.assert_allclose(xb.infer(inputs), inputs @ x.conductance[1])
    xb.select(3, 2)
    xb.set_mode(Mode.MONITOR_INPUT)
    assert xb.monitor_input(np.arange(5) * 0.1) == pytest.approx(0.3)
    wl, bl = xb.switches()
    assert wl.re and wl.sd[3] and not bl.sd.any() and not bl.ud.any()
    xb.set_mode(Mode.MONITOR_SENSE)
    assert xb.monitor_sense(0.0) == pytest.approx(1.202)
    with pytest.raises(XbarsimInputError, match="mode"):
        xb.read()
    with pytest.raises(XbarsimInputError, match="mode"):
        xb.apply_pulse(1.0)


def test_bad_input():
    _, xb = _xblock()
    with pytest.raises(XbarsimInputError, match="mode: unknown mode 'erase'"):
        xb.set_mode("erase")
    with pytest.raises(XbarsimInputError, match="row: address 5 out of range"):
        xb.select(5, 0)
    with pytest.raises(XbarsimInputError, match="col"):
        xb.select(0, -1)
    with pytest.raises(XbarsimInputError, match="lines"):
        decode(ControlWord(True, True, False), 0, 0)


def test_ports_satisfy_protocol():
    x, xb = _xblock()
    assert isinstance(xb, CrossbarPort)
    assert isinstance(DirectPort(x, 0), CrossbarPort)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("sigma", [0.05, 0.25])
def test_xblock_write_verify_equals_direct_and_reference(seed, sigma):
    dev = DEV.with_sigma(sigma)
    n = 4
    targets = np.random.default_rng(seed).uniform(10e-6, 100e-6, (n, n))
    alg = WriteVerify.thesis(passes=2)
    x_ref = Crossbar.sample(dev, (n, n), seed=seed)
    ref = program(x_ref, targets, alg, engine="reference")
    runs = []
    for make in (lambda x: DirectPort(x, 0, BiasScheme.V2), lambda x: XBlock(x, 0)):
        x = Crossbar.sample(dev, (n, n), seed=seed)
        runs.append(program_port(make(x), targets, alg, skip=x.unswitchable[0]))
    (direct, log_d), (xblock, log_x) = runs
    for res in (direct, xblock):
        np.testing.assert_array_equal(res.conductance, ref.conductance)
        np.testing.assert_array_equal(res.pulses, ref.pulses)
        np.testing.assert_array_equal(res.abandoned, ref.abandoned)
        np.testing.assert_array_equal(res.pulses_per_pass, ref.pulses_per_pass)
        for key in ref.history:
            np.testing.assert_allclose(res.history[key], ref.history[key], rtol=1e-12)
    assert log_d.pulses == log_x.pulses == ref.total_pulses
    np.testing.assert_array_equal(log_d.voltage_v, log_x.voltage_v)
    np.testing.assert_allclose(log_d.array_power_w, log_x.array_power_w, rtol=1e-12)
    # half-selected devices draw power: more than the selected device alone
    g_sel_bound = DEV.g_max_s * log_d.voltage_v**2
    assert np.all(log_d.array_power_w > 0) and np.any(log_d.array_power_w > 0)
    assert np.all(log_d.array_power_w < g_sel_bound * (1 + 0.25 * 2 * (n - 1)))


def test_xblock_both_sides_follow_table_iii_in_every_mode_and_address():
    """Through the X-block (shift registers loaded serially): WL and BL decoders give the
    Table III states for every mode and every (row, col); in a monitoring mode the side not
    under test is idle."""
    _, xb = _xblock(rows=5, cols=4)
    for mode in Mode:
        for r, c in itertools.product(range(5), range(4)):
            xb.select(r, c)
            xb.set_mode(mode)
            row = TABLE_III[mode]
            for side, address, lines, name in (
                (xb.switches()[0], r, 5, "wl"),
                (xb.switches()[1], c, 4, "bl"),
            ):
                idle = (mode is Mode.MONITOR_INPUT and name == "bl") or (
                    mode is Mode.MONITOR_SENSE and name == "wl"
                )
                others = np.arange(lines) != address
                if idle:
                    assert not side.sd.any() and not side.ud.any() and not side.re
                    continue
                assert side.sd[address] == row.sel_sd and side.ud[address] == row.sel_ud
                assert np.all(side.sd[others] == row.unsel_sd)
                assert np.all(side.ud[others] == row.unsel_ud)
                assert _matches(row.re_on, side.re)
