"""Every effect composed in one deploy path: each alone equals its own path bit for bit,
lines + temperature agree with the circuit solvers (ngspice where installed), everything
at once runs, and adding an effect never reduces the error where physics says it cannot."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from xbarsim.chip.spec import ChipSpec, spec_from_dict  # noqa: E402
from xbarsim.crossbar.irdrop import effective_matrix  # noqa: E402
from xbarsim.crossbar.lines import Lines  # noqa: E402
from xbarsim.crossbar.newton import solve_nonlinear  # noqa: E402
from xbarsim.crossbar.nodal import NodalNetwork  # noqa: E402
from xbarsim.crossbar.spice import netlist, ngspice_available, run_ngspice  # noqa: E402
from xbarsim.errors import XbarsimInputError  # noqa: E402
from xbarsim.nn import deploy, deploy_spec, program_model, program_model_mitigated  # noqa: E402
from xbarsim.nn.defects import DefectMitigation  # noqa: E402
from xbarsim.nn.periphery import attach_periphery  # noqa: E402

BASE = {"device": {"preset": "thesis-uniformity"}, "array": {"kernel": 8},
        "programming": {"algorithm": "ideal", "engine": "cpu"}}
LINES = {"r_row_ohm": 20.0, "r_col_ohm": 20.0, "r_source_ohm": 5.0, "r_sink_ohm": 5.0}


def _spec(**sections: dict) -> ChipSpec:
    data = {k: dict(v) for k, v in BASE.items()}
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return spec_from_dict(data)


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 4)).eval()


def _x(n: int = 32, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 12, generator=torch.Generator().manual_seed(seed))


def test_temperature_and_age_alone_equal_the_conditions_path():
    x = _x()
    for nonlinear, noise in ((False, False), (True, True)):
        spec = _spec(conditions={"nonlinearity": nonlinear, "read_noise": noise})
        new = deploy_spec(_mlp(), spec, seed=3)
        old = program_model(_mlp(), spec.chip_config(), seed=3)
        with torch.no_grad(), new.at(temp_c=85.0, age_h=1e4, seed=2) as a:
            y_new = a(x)
        with torch.no_grad(), old.at(temp_c=85.0, age_h=1e4, nonlinear=nonlinear, noise=noise,
                                     seed=2) as b:
            y_old = b(x)
        assert torch.equal(y_new, y_old)


def test_lines_alone_equal_the_lines_path_also_inside_nominal_conditions():
    x = _x()
    spec = _spec(lines=LINES)
    new = deploy_spec(_mlp(), spec, seed=1)
    old = program_model(_mlp(), spec.chip_config(), seed=1, lines=spec.lines_config())
    with torch.no_grad():
        y = new.model(x)
        assert torch.equal(y, old.model(x))
        with new.at() as model:  # the spec's conditions: 25 degC, no ageing, linear devices
            assert torch.equal(model(x), y)


def test_read_path_alone_equals_attach_periphery():
    x = _x(64)
    spec = _spec(read_path={"preset": "thesis", "calibration_inputs": 64})
    new = deploy_spec(_mlp(), spec, seed=0, calibration_x=x.numpy())
    old = deploy(_mlp(), spec.chip_config(), seed=0)
    attach_periphery(old, spec.read_path.config(), x)
    with torch.no_grad():
        assert torch.equal(new.model(x), old(x))
        with new.at() as model:
            assert torch.equal(model(x), old(x))


def test_mitigation_alone_equals_the_mitigated_path():
    x = _x(64)
    spec = _spec(device={"stuck_ppm": 50_000.0},
                 mitigation={"kind": "pair+column", "calibration_images": 64})
    new = deploy_spec(_mlp(), spec, seed=4, calibration_x=x.numpy())
    mit = DefectMitigation(kind="pair+column", calibration_images=64)
    old = program_model_mitigated(_mlp(), spec.chip_config(), 4, mit, x.numpy())
    with torch.no_grad():
        assert torch.equal(new.model(x), old.model(x))


def test_offsets_shift_the_outputs_and_compensation_takes_most_of_it_back():
    x = _x(64)
    errors = {}
    for case, section in {
        "none": {},
        "offset": {"offset_sigma_v": 0.02},
        "compensated": {"offset_sigma_v": 0.02, "offset_compensation": True},
    }.items():
        spec = _spec(read_path={"preset": "thesis-8bit", "calibration_inputs": 64, **section})
        dep = deploy_spec(_mlp(), spec, seed=0, calibration_x=x.numpy())
        with torch.no_grad():
            errors[case] = float((dep.model(x) - _mlp()(x)).abs().mean())
    assert errors["offset"] > 2 * errors["none"]
    assert errors["compensated"] < 0.5 * errors["offset"]


def _one_layer(spec: ChipSpec, seed: int):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 5, bias=False)).double().eval()
    return deploy_spec(model, spec, seed=seed)


def test_lines_and_temperature_agree_with_the_nodal_network_at_those_conductances():
    spec = _spec(lines=LINES, array={"kernel": 6})
    dep = _one_layer(spec, 0)
    v = np.random.default_rng(0).uniform(0, 0.1, (4, 6))
    g = dep.crossbars().at(90.0, 5e3, nonlinear=False, noise=False).conductance
    with dep.at(temp_c=90.0, age_h=5e3):
        pass
    (_, eff), = [(k, m) for k, m in dep.cache.items() if k[0] == "effective"]
    for k in range(g.shape[0]):
        nodal = NodalNetwork(g[k], spec.lines_config()).output_currents(v)
        np.testing.assert_allclose(v @ eff[k], nodal, rtol=1e-9, atol=1e-15)


@pytest.mark.skipif(not ngspice_available(), reason="ngspice not installed")
def test_lines_and_temperature_agree_with_ngspice_at_those_conductances():
    spec = _spec(lines=LINES, array={"kernel": 6})
    dep = _one_layer(spec, 1)
    g = dep.crossbars().at(90.0, 5e3, nonlinear=False, noise=False).conductance
    v = np.random.default_rng(1).uniform(0, 0.1, 6)
    eff = effective_matrix(g, spec.lines_config())
    for k in range(g.shape[0]):
        spice = run_ngspice(netlist(g[k], spec.lines_config(), v), 6)
        np.testing.assert_allclose(v @ eff[k], spice, rtol=1e-6)


def test_every_effect_at_once_runs_end_to_end():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4, momentum=None), nn.ReLU(),
                        nn.Flatten(), nn.Linear(4 * 36, 5)).eval()
    x = torch.rand(48, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.train()(x)  # batch-norm statistics of these inputs, as a trained network has
    net.eval()
    spec = _spec(
        device={"stuck_ppm": 10_000.0, "leak_dose": 1e-9, "cycle_to_cycle": 0.05},
        programming={"algorithm": "thesis"},  # the default, with its stuck-device rule
        lines={"preset": "paper"},
        read_path={"preset": "thesis", "offset_sigma_v": 0.01, "offset_compensation": True,
                   "calibration_inputs": 48},
        mitigation={"kind": "pair+column", "calibration_images": 48, "balancing": True},
        conditions={"nonlinearity": True, "read_noise": True, "temp_c": 60.0, "age_h": 1e3},
    )
    effects = spec.effects()
    assert not effects.pop("eflash")  # the other synapse technology, exclusive of these
    assert all(effects.values())
    dep = deploy_spec(net, spec, seed=0, calibration_x=x.numpy())
    with torch.no_grad():
        software = net(x)
        with dep.at() as model:
            y = model(x)
    assert torch.isfinite(y).all()
    corr = np.corrcoef(y.numpy().ravel(), software.numpy().ravel())[0, 1]
    assert corr > 0.9


def test_newton_under_lines_matches_a_direct_solve_and_bounds_the_linearization():
    lines = Lines(r_row_ohm=30.0, r_col_ohm=30.0, r_source_ohm=5.0, r_sink_ohm=5.0)
    data = {"lines": lines.model_dump(exclude={"r_tia_in_ohm", "row_drive", "col_sense"}),
            "array": {"kernel": 6}, "conditions": {"nonlinearity": True}}
    spec = _spec(**data)
    newton = _spec(**{**data, "conditions": {"nonlinearity": True,
                                             "nonlinear_solver": "newton"}})
    x = torch.rand(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    dep_l, dep_n = _one_layer(spec, 0), _one_layer(newton, 0)
    with torch.no_grad(), dep_l.at(temp_c=70.0) as a:
        y_lin = a(x).numpy()
    with torch.no_grad(), dep_n.at(temp_c=70.0) as b:
        y_new = b(x).numpy()
    layer = dep_n.model[0]
    g = dep_n.crossbars().at(70.0, nonlinear=True, noise=False).conductance
    law = dep_n.crossbars().device.conditions.nonlinearity
    v = x.numpy() * float(layer.input_voltage_v)
    direct = (solve_nonlinear(g[0], lines, v, law).currents_a
              - solve_nonlinear(g[1], lines, v, law).currents_a)[:, :5]
    expected = direct * float(layer.weight_scale) / float(layer.input_voltage_v)
    np.testing.assert_allclose(y_new, expected, rtol=1e-9)
    rel = np.abs(y_lin - y_new).max() / np.abs(y_new).max()
    assert 0.0 < rel < 0.01  # the linearization's error on this array (see docs)


@pytest.mark.parametrize("effect", ["lines", "read_path"])
def test_adding_a_lossy_effect_raises_the_error_over_seeds(effect: str):
    """Over 8 instances the effect raises the mean error and the error of most instances (a
    line drop can partly cancel one instance's programming error: not every instance)."""
    x = _x(64)
    extra = {"lines": {"lines": {"r_row_ohm": 5.0, "r_col_ohm": 5.0}},
             "read_path": {"read_path": {"preset": "thesis", "calibration_inputs": 64}}}[effect]
    errs = np.zeros((8, 2))
    for seed in range(8):
        software = _mlp(seed)(x)
        for k, sections in enumerate(({"programming": {"algorithm": "thesis"}},
                                      {"programming": {"algorithm": "thesis"}, **extra})):
            dep = deploy_spec(_mlp(seed), _spec(**sections), seed=seed, calibration_x=x.numpy())
            with torch.no_grad():
                errs[seed, k] = float((dep.model(x) - software).abs().mean())
    assert errs[:, 1].mean() > 1.2 * errs[:, 0].mean(), errs
    assert (errs[:, 1] > errs[:, 0]).sum() >= 6, errs


def test_balancing_tunes_the_devices_at_the_balanced_voltage():
    from xbarsim.nn import balance_v_tune

    x = _x(64)
    spec = _spec(mitigation={"balancing": True}, conditions={"nonlinearity": True})
    dep = deploy_spec(_mlp(), spec, seed=0, calibration_x=x.numpy())
    chip = spec.chip_config()
    expected, _ = balance_v_tune(_mlp(), chip.device.conditions.nonlinearity, x.numpy(),
                                 chip.mapping, None, chip.g_low_s, chip.g_high_s)
    assert dep.chip.device.conditions.nonlinearity.v_tune_v == expected
    assert expected != chip.device.conditions.nonlinearity.v_tune_v


def test_spec_deploy_refuses_what_it_cannot_compose_in_one_line():
    with pytest.raises(XbarsimInputError, match=r"^calibration_x: required by the spec's"):
        deploy_spec(_mlp(), _spec(read_path={"preset": "thesis"}))
    with pytest.raises(XbarsimInputError, match=r"^mitigation.state_optimization: "):
        deploy_spec(_mlp(), _spec(mitigation={"state_optimization": True}))
    with pytest.raises(XbarsimInputError, match=r"^programming.through_lines: "):
        deploy_spec(_mlp(), _spec(lines=LINES, programming={"through_lines": True},
                                  mitigation={"kind": "pair"}))
    with pytest.raises(XbarsimInputError, match=r"^lines: a chip spec carries it"):
        deploy(_mlp(), _spec(), lines=Lines(r_row_ohm=1.0))


def test_condition_warnings_point_at_the_users_line():
    dep = deploy_spec(_mlp(), _spec())
    with pytest.warns(Warning) as record, dep.at(temp_c=140.0):
        pass
    assert record and all(w.filename == __file__ for w in record)


@pytest.mark.parametrize(("drive", "sense"), [("first", "last"), ("last", "first")])
def test_first_order_matrices_err_in_second_order_of_the_line_resistance(drive, sense):
    from xbarsim.crossbar.irdrop import first_order_matrix

    g = np.random.default_rng(0).uniform(10e-6, 100e-6, (5, 12, 12))
    errors = []
    for scale in (1.0, 0.5):
        lines = Lines(r_row_ohm=4.0 * scale, r_col_ohm=3.0 * scale, r_source_ohm=5.0 * scale,
                      r_sink_ohm=2.0 * scale, row_drive=drive, col_sense=sense)
        exact = effective_matrix(g, lines)
        errors.append(np.abs(first_order_matrix(g, lines) - exact).max()
                      / np.abs(g - exact).max())
    assert errors[0] < 0.05
    assert errors[1] == pytest.approx(errors[0] / 2, rel=0.1)  # error / drop ~ r


def test_first_order_update_is_exact_at_the_programmed_state_and_close_elsewhere():
    from xbarsim.crossbar.irdrop import updated_matrix
    from xbarsim.crossbar.lines import lines_preset

    rng = np.random.default_rng(1)
    g0 = rng.uniform(10e-6, 100e-6, (4, 32, 32))
    lines = lines_preset("paper")
    m0 = effective_matrix(g0, lines)
    assert np.array_equal(updated_matrix(m0, g0, g0, lines), m0)
    g1 = g0 * (1 - 0.05 * g0 / 100e-6)  # a temperature-like, state-dependent change
    exact = effective_matrix(g1, lines)
    err = np.abs(updated_matrix(m0, g0, g1, lines) - exact).max() / np.abs(exact).max()
    change = np.abs(exact - m0).max() / np.abs(exact).max()
    assert err < change / 10
    both = lines.model_copy(update={"row_drive": "both"})
    np.testing.assert_array_equal(updated_matrix(effective_matrix(g0, both), g0, g1, both),
                                  effective_matrix(g1, both))


def test_spec_line_update_first_order_tracks_the_exact_solve():
    x = _x()
    outs = {}
    for update in ("exact", "first-order"):
        dep = deploy_spec(_mlp(), _spec(lines=LINES, conditions={"line_update": update}), seed=2)
        with torch.no_grad(), dep.at(temp_c=85.0, age_h=1e4) as model:
            outs[update] = model(x)
    rel = float((outs["exact"] - outs["first-order"]).abs().max() / outs["exact"].abs().max())
    assert 0.0 < rel < 1e-3


def test_subpackages_resolve_from_the_package_without_importing_torch_up_front():
    import subprocess
    import sys

    code = (
        "import sys, xbarsim as xs\n"
        "assert 'torch' not in sys.modules\n"
        "assert callable(xs.nn.periphery.attach_periphery)\n"
        "assert xs.periphery.ReadPath and xs.chip.ChipSpec and xs.nn.deploy_spec\n"
        "try:\n    xs.nonexistent\nexcept AttributeError:\n    pass\n"
        "else:\n    raise SystemExit(1)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
