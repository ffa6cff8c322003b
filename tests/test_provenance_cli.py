"""Every command's results carry the same provenance object (read back from each output)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from xbarsim import __version__
from xbarsim.cli import main
from xbarsim.cli.output import PARQUET_PROVENANCE_KEY
from xbarsim.provenance import PROVENANCE_KEYS

ROOT = Path(__file__).parent.parent
#: command name -> (arguments, the seed it records); tiny settings, seconds each.
COMMANDS: dict[str, tuple[list[str], int | None]] = {
    "thresholds": (["thresholds", "--size", "8", "--seed", "4"], 4),
    "program-image": (["program-image", "--size", "6", "--seed", "2", "--engine", "reference"], 2),
    "device-effects": (["device-effects", "--instances", "2", "--seed", "3"], 3),
    "vmm-cost": (["vmm-cost", "--sizes", "4,8", "--kind", "analog"], None),
    "offset-compensation": (["offset-compensation", "--tias", "3", "--sweep-seeds", "0",
                             "--seed", "5", "--engine", "reference"], 5),
    "ir-drop": (["ir-drop", "--rows", "4", "--cols", "3", "--seed", "1"], 1),
    "irdrop-study": (["irdrop-study", "--sizes", "4", "--r-wire", "0,1", "--instances", "2",
                      "--inputs", "5", "--no-network", "--seed", "6"], 6),
    "vmm-study": (["vmm-study", "--sizes", "4", "--sigmas", "0.05", "--crossbars", "1",
                   "--weights", "1", "--inputs", "10", "--seed", "8", "--engine", "reference",
                   "--workers", "0"], 8),
    "mnist-slp": (["mnist-slp", "--epochs", "1", "--trials", "1", "--errors", "0.01",
                   "--instances", "1", "--engine", "reference", "--seed", "9"], 9),
}


def _check(prov: dict, argv: list[str], seed: int | None) -> None:
    assert set(PROVENANCE_KEYS) <= set(prov)
    assert prov["xbarsim_version"] == __version__
    assert prov["command"] == shlex.join(["xbarsim", *argv])
    assert prov["config_hashes"] and all(len(h) == 16 for h in prov["config_hashes"].values())
    if seed is not None:
        assert prov["seeds"] == {"seed": seed}
    assert prov["date_utc"].endswith("+00:00")
    assert prov["numpy"] and prov["python"] and prov["cpu"]


#: Torch-backed commands train a network: slow, covered fast through their shared writer.
SLOW = {"mnist-slp"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in COMMANDS]
)
def test_json_output_carries_provenance(name: str, tmp_path: Path, capsys) -> None:
    args, seed = COMMANDS[name]
    if name == "mnist-slp":
        pytest.importorskip("torch")
    argv = [*args, "--json", "-"]
    if name in ("thresholds", "program-image", "irdrop-study", "vmm-study", "mnist-slp"):
        argv.append("--no-progress")
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    _check(data["provenance"], argv, seed)


def test_network_and_chapter2_writer_adds_provenance(tmp_path: Path, capsys) -> None:
    """mnist-slp, network-study and the three chapter-2 studies write through one function."""
    from dataclasses import dataclass

    from xbarsim.cli import output
    from xbarsim.cli.network_commands import _emit
    from xbarsim.provenance import set_command

    @dataclass
    class Setup:
        epochs: int = 2

    set_command(["network-study", "--epochs", "2"])
    _emit({"cases": []}, str(tmp_path / "r.json"), tmp_path, 11, Setup())
    for path in (tmp_path / "r.json", tmp_path / "results.json"):
        prov = json.loads(path.read_text())["provenance"]
        _check(prov, ["network-study", "--epochs", "2"], 11)
        assert set(prov["config_hashes"]) == {"setup"}
    other = output.with_provenance({}, 11, {"setup": Setup(epochs=3)})["provenance"]
    assert other["config_hashes"]["setup"] != prov["config_hashes"]["setup"]


def test_program_image_results_json_holds_provenance(tmp_path: Path, capsys) -> None:
    argv = ["program-image", "--size", "6", "--engine", "reference", "--no-progress",
            "--out", str(tmp_path / "d")]
    assert main(argv) == 0
    data = json.loads((tmp_path / "d" / "results.json").read_text())
    _check(data["provenance"], argv, 1)


def test_fit_device_json_holds_provenance(tmp_path: Path, capsys) -> None:
    from tests.test_device_model_cli import write_temperature_csv

    data = write_temperature_csv(tmp_path / "t.csv", n=40)
    argv = ["fit-device", str(data), "--model", "temperature", "--out",
            str(tmp_path / "fit.yaml"), "--json", "-"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    _check(out["provenance"], argv, None)
    assert set(out["provenance"]["config_hashes"]) == {"device", "fitted_device"}


def test_sweep_store_metadata_holds_provenance(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "grid.yaml"
    cfg.write_text(yaml.safe_dump({
        "sizes": [4], "sigmas": [0.05], "targets": [0.02], "algorithms": ["no-hs"],
        "crossbars": 1, "weight_sets": 1, "inputs": 10, "seed": 7, "engine": "reference",
        "results": str(tmp_path / "res"),
    }))
    argv = ["sweep", str(cfg), "--workers", "0", "--no-progress"]
    assert main(argv) == 0
    meta = json.loads((tmp_path / "res" / "_xbarsim_sweep.json").read_text())
    prov = meta["provenance"]
    assert set(PROVENANCE_KEYS) <= set(prov)
    assert prov["seeds"] == {"seed": 7} and set(prov["config_hashes"]) == {"study"}
    assert prov["command"] == shlex.join(["xbarsim", *argv])  # the typed command, not pytest's
    # a resumed run with the same parameters accepts the store (provenance is not compared)
    assert main([*argv, "--resume"]) == 0


def test_chapter2_store_metadata_holds_provenance_and_resumes(tmp_path: Path) -> None:
    from xbarsim.experiments.chapter2 import META_NAME, PartStore

    store = PartStore(tmp_path / "s", {"study": "x", "seed": 3})
    store.init()
    stored = json.loads((tmp_path / "s" / META_NAME).read_text())
    assert stored["provenance"]["seeds"] == {"seed": 3}
    store.write("a", [{"v": 1}])
    store.check(resume=True)  # same parameters: accepted despite the added provenance
    with pytest.raises(Exception, match="different study parameters"):
        PartStore(tmp_path / "s", {"study": "x", "seed": 4}).check(resume=True)


def test_parquet_written_by_a_command_holds_provenance(tmp_path: Path) -> None:
    import pandas as pd

    from xbarsim.cli.output import write_parquet

    path = tmp_path / "t.parquet"
    write_parquet(pd.DataFrame({"a": [1, 2]}), path, 5, {"setup": {"x": 1}})
    prov = json.loads(pq.read_schema(path).metadata[PARQUET_PROVENANCE_KEY])
    assert prov["seeds"] == {"seed": 5} and set(PROVENANCE_KEYS) <= set(prov)
    assert list(pd.read_parquet(path)["a"]) == [1, 2]
