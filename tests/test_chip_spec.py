"""The chip spec: presets, exact YAML/JSON round trips, content hash, refusals, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xbarsim.chip.spec import SPEC_PRESETS, ChipSpec, load_spec, spec_from_dict, spec_preset
from xbarsim.cli import main
from xbarsim.crossbar.lines import PAPER_R_ROW_OHM
from xbarsim.errors import XbarsimInputError
from xbarsim.programming.algorithm import PAPER_CAP_V, WriteVerify


@pytest.mark.parametrize("name", SPEC_PRESETS)
def test_presets_round_trip_exactly_through_yaml_and_json(name: str) -> None:
    spec = spec_preset(name)
    assert ChipSpec.from_yaml(spec.to_yaml()) == spec
    assert ChipSpec.from_yaml(spec.to_json()) == spec
    assert ChipSpec.from_yaml(spec.to_yaml()).content_hash() == spec.content_hash()


@settings(max_examples=25, deadline=None)
@given(
    temp=st.floats(-40.0, 150.0),
    age=st.floats(0.0, 1e6),
    ppm=st.floats(0.0, 1e5),
    r_row=st.floats(0.0, 10.0),
    kernel=st.integers(1, 256),
)
def test_any_spec_round_trips_exactly(temp: float, age: float, ppm: float, r_row: float,
                                      kernel: int) -> None:
    spec = spec_from_dict({
        "preset": "paper-64x64",
        "conditions": {"temp_c": temp, "age_h": age},
        "device": {"stuck_ppm": ppm},
        "lines": {"r_row_ohm": r_row},
        "array": {"kernel": kernel},
    })
    assert ChipSpec.from_yaml(spec.to_yaml()) == spec
    assert ChipSpec.from_yaml(spec.to_json()) == spec


def test_hash_names_the_content() -> None:
    a, b = spec_preset("paper-64x64"), spec_preset("thesis-mlp-chip")
    assert a.content_hash() != b.content_hash()
    assert len(a.content_hash()) == 16
    c = spec_from_dict({"preset": "paper-64x64", "conditions": {"temp_c": 85.0}})
    assert c.content_hash() != a.content_hash()
    assert spec_from_dict({"preset": "paper-64x64"}).content_hash() == a.content_hash()


def test_presets_build_the_source_documents_chips() -> None:
    paper = spec_preset("paper-64x64")
    chip = paper.chip_config()
    assert chip.kernel == 64
    assert isinstance(chip.algorithm, WriteVerify)
    assert chip.algorithm.max_amplitude_v == PAPER_CAP_V and chip.algorithm.abandon_at_cap
    assert chip.device.faults.unswitchable_fraction == pytest.approx(0.011)
    assert paper.lines_config().r_row_ohm == PAPER_R_ROW_OHM
    mlp = spec_preset("thesis-mlp-chip")
    assert mlp.read_path.config() is not None and mlp.lines_config() is None
    effects = mlp.effects()
    assert effects["read_path"] and effects["programming"] and not effects["lines"]
    assert "read_path" in mlp.summary() and mlp.content_hash() in mlp.summary()


def test_overrides_reach_the_built_objects() -> None:
    spec = spec_from_dict({
        "device": {"stuck_ppm": 3000.0},
        "programming": {"tolerance": 0.02, "max_amplitude_v": 2.0},
    })
    chip = spec.chip_config()
    assert chip.device.conditions.stuck.total_ppm == pytest.approx(3000.0)
    assert chip.algorithm.tolerance == 0.02 and chip.algorithm.max_amplitude_v == 2.0
    assert spec.effects()["stuck_devices"]
    assert not spec.effects()["leak_floor"] and not spec.effects()["cycle_to_cycle"]
    assert spec_preset("ideal").chip_config().algorithm is None
    dynamic = spec_from_dict({"device": {"leak_dose": 1e-9, "cycle_to_cycle": 0.1}})
    device = dynamic.chip_config().device
    assert (device.leak_dose, device.cycle_to_cycle) == (1e-9, 0.1)
    assert dynamic.effects()["leak_floor"] and dynamic.effects()["cycle_to_cycle"]
    assert "leak_floor, cycle_to_cycle" in dynamic.summary()
    # they act through the write pulses only: without programming they are not effects
    loaded = spec_from_dict({"device": {"leak_dose": 1e-9}, "programming": {"algorithm": "ideal"}})
    assert not loaded.effects()["leak_floor"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"array": {"kernl": 3}}, "array.kernl"),
        ({"colour": 1}, "colour"),
        ({"preset": "nope"}, "preset"),
        ({"mitigation": {"kind": "magic"}}, "mitigation.kind"),
        ({"lines": {"preset": "copper"}}, "lines"),
        ({"device": {"preset": "hafnia"}}, "preset"),
        ({"array": {"g_low_s": 5e-4}}, "array"),
        ({"read_path": {"offset_sigma_v": 0.01}}, "read_path.offset_sigma_v"),
        ({"read_path": {"preset": "thesis", "offset_compensation": True}},
         "read_path.offset_compensation"),
        ({"conditions": {"nonlinear_solver": "newton"}}, "conditions.nonlinear_solver"),
        ({"programming": {"through_lines": True}}, "programming.through_lines"),
        ([1, 2], "spec"),
    ],
)
def test_bad_specs_are_refused_in_one_line_naming_the_field(data: object, field: str) -> None:
    with pytest.raises(XbarsimInputError) as info:
        spec_from_dict(data)
    message = str(info.value)
    assert "\n" not in message and field in message


def test_cli_writes_and_checks_a_spec(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "chip.yaml"
    assert main(["spec", "--preset", "paper-64x64", "--out", str(path)]) == 0
    assert load_spec(path) == spec_preset("paper-64x64")
    assert main(["spec", "--check", str(path)]) == 0
    assert spec_preset("paper-64x64").content_hash() in capsys.readouterr().out
    as_json = tmp_path / "chip.json"
    assert main(["spec", "--preset", "thesis-mlp-chip", "--out", str(as_json)]) == 0
    assert json.loads(as_json.read_text())["name"] == "thesis-mlp-chip"


def test_cli_refuses_in_one_line_and_writes_nothing(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "x.yaml"
    assert main(["spec", "--preset", "nope", "--out", str(out)]) == 2
    assert not out.exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("array: {kernl: 3}\n")
    assert main(["spec", "--check", str(bad)]) == 2
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("!!python/object/apply:os.system ['true']\n")
    assert main(["spec", "--check", str(unsafe)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "array.kernl" in err[1] and "not valid YAML" in err[2]


def test_spec_hashes_are_pinned_and_leave_out_fields_at_none() -> None:
    """A spec's hash seeds evaluate's chip instances: it must not move when a version adds
    an optional field (None: keep the preset's value). Changing a pinned value below
    reseeds every evaluate instance of that spec; do it on purpose only."""
    pinned = {"thesis-mlp-chip": "f9e39d59182dedd6", "paper-64x64": "25111a55f654817c",
              "ideal": "99d96f061ee57050", "eflash-fm2": "5452f556c91e8b3a"}
    assert {name: spec_preset(name).content_hash() for name in pinned} == pinned
    spec = spec_preset("thesis-mlp-chip")
    assert spec.device.leak_dose is None and spec.device.cycle_to_cycle is None
    assert spec_from_dict({"preset": "thesis-mlp-chip",
                           "device": {"cycle_to_cycle": 0.1}}).content_hash() != pinned[
        "thesis-mlp-chip"]
