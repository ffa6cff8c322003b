"""The one provenance function: every key, hashes that follow the configuration."""

from __future__ import annotations

import datetime as dt

from xbarsim import __version__
from xbarsim.devices.config import preset
from xbarsim.provenance import PROVENANCE_KEYS, config_hash, provenance


def test_provenance_holds_every_key_and_the_given_values() -> None:
    prov = provenance(seeds={"root": 3}, configs={"device": preset("tio2-64x64-paper")},
                      command="xbarsim demo", mode="quick")
    assert set(PROVENANCE_KEYS) <= set(prov)
    assert prov["xbarsim_version"] == __version__
    assert prov["seeds"] == {"root": 3}
    assert prov["command"] == "xbarsim demo"
    assert prov["mode"] == "quick"
    assert len(prov["config_hashes"]["device"]) == 16
    date = dt.datetime.fromisoformat(prov["date_utc"])
    assert date.tzinfo is not None
    assert provenance(seeds=5)["seeds"] == {"seed": 5}


def test_config_hash_changes_with_the_configuration_only() -> None:
    a = preset("tio2-64x64-paper")
    b = a.model_copy(update={"g_max_s": a.g_max_s * 1.01})
    assert config_hash(a) == config_hash(preset("tio2-64x64-paper"))
    assert config_hash(a) != config_hash(b)
    assert config_hash({"x": 1, "y": 2}) == config_hash({"y": 2, "x": 1})
