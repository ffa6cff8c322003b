"""eFlash synapses in the chip spec: deploy(model, spec), at(...), spec --check, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.func import functional_call  # noqa: E402

from xbarsim.chip.spec import ChipSpec, spec_from_dict, spec_preset  # noqa: E402
from xbarsim.cli import main  # noqa: E402
from xbarsim.errors import XbarsimInputError  # noqa: E402
from xbarsim.experiments.temperature_study import design  # noqa: E402
from xbarsim.nn import at, deploy  # noqa: E402
from xbarsim.nn.deploy import deploy_spec  # noqa: E402
from xbarsim.nn.thermal import ThermalWeights  # noqa: E402

TEMPS = [25.0, 55.0, 85.0, 100.0]


def _eflash(**sections: object) -> ChipSpec:
    return spec_from_dict({"preset": "eflash-fm2", **sections})


def _convnet(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10))


@pytest.mark.parametrize(("case", "which"), [("fm1", "baseline"), ("fm2", "baseline"),
                                              ("fm2", "thesis"), ("fm1", "thesis")])
def test_eflash_alone_equals_the_chapter2_temperature_path_bit_for_bit(case, which):
    """The spec's eFlash chip at a die temperature computes with exactly the effective
    weights (and here the logits) of the chapter-2 path (ThermalWeights), for every seed."""
    mapping = "mapping1" if case == "fm1" else "mapping2"
    spec = _eflash(array={"mapping": mapping, "kernel": 16},
                   synapse={"technology": "eflash", "eflash_design": which})
    reference = design(case, which, 1.0)
    for seed in (0, 1, 2):
        model = _convnet(seed)
        x = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
        thermal = ThermalWeights(model, reference, TEMPS)
        dep = deploy_spec(model, spec, seed=seed)
        params = dict(model.named_parameters())
        for i, temp in enumerate(TEMPS):
            expected = functional_call(model, {**params, **thermal.at_index(i)}, (x,))
            with dep.at(temp_c=temp) as chip:
                got = chip(x)
                for name, layer in chip.named_modules():
                    if getattr(layer, "conditions", None) is None:
                        continue
                    w = thermal.at_index(i)[f"{name}.weight"]
                    assert torch.equal(layer.conditions.matrix, w.reshape(w.shape[0], -1).T)
            assert torch.equal(got, expected)
        if case == "fm2" and which == "baseline":  # the temperature moves the outputs
            with dep.at(temp_c=100.0) as chip:
                assert not torch.equal(chip(x), model(x))


def test_eflash_with_the_read_path_runs_end_to_end():
    """eFlash cells + die temperature + the thesis read path (DAC -> TIA -> ADC), through
    deploy(model, spec) and xbarsim.nn.at; physical column currents of nA cells."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    x = torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    spec = _eflash(read_path={"preset": "thesis"}, conditions={"temp_c": 70.0},
                   array={"kernel": 16})
    assert spec.effects()["eflash"] and spec.effects()["read_path"]
    assert spec.effects()["temperature"] and not spec.effects()["stuck_devices"]
    chip = deploy(model, spec, calibration_x=x[:100].numpy())
    software = model(x).argmax(1)
    with at(chip) as hot:  # the spec's 70 degC
        agree_hot = (hot(x).argmax(1) == software).float().mean().item()
    with at(chip, temp_c=25.0) as cool:
        out = cool(x)
        agree_cool = (out.argmax(1) == software).float().mean().item()
    assert torch.isfinite(out).all()
    assert agree_cool > 0.9 and agree_hot > 0.8
    record = chip.xbarsim_deployment
    assert record.periphery is not None and record.result is None
    cost = record.cost(record.chip, activity=x[:20].numpy())
    assert cost["programming_energy_j"] == 0.0
    # the columns of 30 nA cells draw nA-scale currents per input: microamps in all
    per_inference = cost["layers"][0]["column_current_a_per_inference"]
    assert 1e-7 < per_inference < 1e-3


@pytest.mark.parametrize(
    ("sections", "field"),
    [
        ({"programming": {"algorithm": "paper"}}, "programming.algorithm"),
        ({"lines": {"preset": "paper"}}, "lines.preset"),
        ({"device": {"stuck_ppm": 100.0}}, "device.stuck_ppm"),
        ({"device": {"leak_dose": 1e-9}}, "device.leak_dose"),
        ({"device": {"cycle_to_cycle": 0.1}}, "device.leak_dose"),
        ({"conditions": {"read_noise": True}}, "conditions.read_noise"),
        ({"conditions": {"age_h": 10.0}}, "conditions.age_h"),
        ({"conditions": {"nonlinearity": True}}, "conditions.nonlinearity"),
        ({"read_path": {"preset": "thesis", "offset_sigma_v": 0.001}},
         "read_path.offset_sigma_v"),
        ({"mitigation": {"kind": "pair"}}, "mitigation.kind"),
        ({"mitigation": {"balancing": True}}, "mitigation.balancing"),
        ({"mitigation": {"state_optimization": True}}, "mitigation.state_optimization"),
        ({"array": {"mapping": "differential"}}, "array.mapping"),
    ],
)
def test_memristor_only_effects_are_refused_with_a_reason(sections, field):
    with pytest.raises(XbarsimInputError, match=field) as info:
        _eflash(**sections)
    assert "\n" not in str(info.value)


def test_conditions_without_an_eflash_model_are_refused_at_evaluation():
    model = nn.Sequential(nn.Linear(4, 3))
    dep = deploy_spec(model, spec_preset("eflash-fm2"))
    for kwargs, name in (({"age_h": 5.0}, "age_h"), ({"noise": True}, "noise"),
                         ({"nonlinear": True}, "nonlinear")):
        with pytest.raises(XbarsimInputError, match=name), dep.at(**kwargs):
            pass
    with pytest.raises(XbarsimInputError, match="temps"), dep.at(temp_c=400.0):
        pass
    with pytest.raises(XbarsimInputError, match="temp_c"), dep.at(temp_c=120.0, strict=True):
        pass
    assert spec_preset("eflash-fm2").synapse.technology == "eflash"
    assert spec_preset("ideal").synapse.technology == "memristor"


def test_spec_check_and_preset_commands(tmp_path: Path, capsys):
    good = tmp_path / "eflash.yaml"
    good.write_text("preset: ideal\nsynapse:\n  technology: eflash\narray:\n  mapping: mapping1\n")
    assert main(["spec", "--check", str(good)]) == 0
    assert "eflash synapses" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("preset: paper-64x64\nsynapse:\n  technology: eflash\n"
                   "array:\n  mapping: mapping2\n")
    assert main(["spec", "--check", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "programming.algorithm" in err and len(err.splitlines()) == 1
    out = tmp_path / "written.yaml"
    assert main(["spec", "--preset", "eflash-fm2", "--out", str(out)]) == 0
    assert ChipSpec.from_yaml(out.read_text()) == spec_preset("eflash-fm2")


FAST = ["evaluate", "--model", "perceptron", "--epochs", "3", "--test-samples", "60",
        "--instances", "2", "--temps", "25,100", "--workers", "0", "--json", "-"]


def test_evaluate_uses_the_eflash_chip(tmp_path: Path, capsys):
    assert main([*FAST, "--preset", "eflash-fm2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["effects"]["eflash"] and data["spec_hash"] == spec_preset(
        "eflash-fm2").content_hash()
    rows = {row["temp_c"]: row for row in data["conditions"]}
    assert rows[25.0]["drop_mean"] == pytest.approx(0.0, abs=1e-12)  # tuned at 25 degC
    # every instance is the same chip (cells tuned exactly): no spread
    assert rows[100.0]["accuracy_std"] == 0.0
    # a spec file alike; an age is refused before any work, nothing written
    spec_file = tmp_path / "chip.json"
    spec_file.write_text(spec_preset("eflash-fm2").to_json())
    out = tmp_path / "run"
    assert main([*FAST, "--spec", str(spec_file), "--ages-h", "0,1000", "--out", str(out)]) == 2
    assert "retention" in capsys.readouterr().err and not out.exists()
    assert np.isfinite(rows[100.0]["accuracy_mean"])
