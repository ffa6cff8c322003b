"""Fuzz the command line: every bad input meets the contract.

Exit code 2, exactly one stderr line starting with ``error:``, no traceback, and nothing
created under the working directory (which holds every output path). The table of
:mod:`fuzz_cases` runs in the default suite; hypothesis then draws bad numbers, strings and
paths for each option (a few per option by default, many with ``-m slow``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from fuzz_cases import CASES, make_fixtures, run_case
from xbarsim.cli import main


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    make_fixtures(path)
    return path


def _assert_contract(root: Path, argv: list[str]) -> None:
    outcome = run_case(main, argv, root)
    assert outcome.violations() == [], f"{argv}: {outcome.violations()}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_table_of_bad_inputs(root: Path, case) -> None:
    with case.limited():
        _assert_contract(root, case.args(root))
    assert not (root / "pwned").exists()


def _not_int(text: str) -> bool:
    try:
        int(text, 10)
    except ValueError:
        return True
    return False


def _not_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


#: Text that cannot be taken for an option name (click would read ``--x`` as one).
_text = st.text(min_size=0, max_size=12).filter(lambda t: not t.startswith("-"))
_bad_int = st.one_of(
    st.integers(max_value=-1).map(str),
    _text.filter(_not_int),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
_bad_nonneg_float = st.one_of(
    st.floats(max_value=-1e-9).map(repr),
    st.sampled_from(["nan", "inf", "-inf"]),
    _text.filter(_not_float).filter(lambda t: t.strip() != ""),
)


def _bad_choice(allowed: set[str]) -> st.SearchStrategy[str]:
    return st.text(min_size=1, max_size=12).filter(
        lambda t: not t.startswith("-") and t.strip() not in allowed and "\x00" not in t
    )


def _bad_dir_path(root_holder: list[Path]) -> st.SearchStrategy[str]:
    """Paths that cannot be directories: below a regular file, or with a NUL byte."""
    name = st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
        min_size=1,
        max_size=10,
    )
    return st.one_of(
        name.map(lambda n: f"{root_holder[0]}/afile/{n}"),
        name.map(lambda n: f"{root_holder[0]}/x\x00{n}"),
    )


_ROOT: list[Path] = []

#: (command, option, strategy of bad values, extra arguments keeping the run small)
OPTIONS: list[tuple[str, str, st.SearchStrategy[str], tuple[str, ...]]] = [
    ("thresholds", "--size", _bad_int, ()),
    ("thresholds", "--seed", _bad_int, ()),
    ("thresholds", "--sigma", _bad_nonneg_float, ()),
    ("thresholds", "--preset", _bad_choice({"tio2-64x64-paper", "thesis-uniformity"}), ()),
    ("thresholds", "--out", _bad_dir_path(_ROOT), ("--size", "4")),
    ("thresholds", "--json", _bad_dir_path(_ROOT), ("--size", "4")),
    ("thresholds", "--max-memory", _text.filter(lambda t: _not_float(t.rstrip("kKmMgGtTiBb"))), ()),
    ("program-image", "--size", _bad_int, ()),
    ("program-image", "--engine", _bad_choice({"auto", "reference", "cpu", "cpu-direct"}), ()),
    ("program-image", "--out", _bad_dir_path(_ROOT), ("--size", "4")),
    ("mnist-slp", "--errors", _text.filter(lambda t: _not_float(t.split(",")[0])), ()),
    ("mnist-slp", "--mnist-dir", _bad_dir_path(_ROOT), ()),
    ("mnist-slp", "--epochs", st.integers(max_value=0).map(str), ()),
    ("network-study", "--models", _bad_choice({"mlp", "convnet", "mlp,convnet"}), ()),
    ("network-study", "--sizes", _text.filter(lambda t: _not_int(t.split(",")[0])), ()),
    ("network-study", "--sigmas", _bad_nonneg_float, ()),
    ("network-study", "--instances", st.integers(max_value=0).map(str), ()),
    ("network-study", "--cifar10-dir", _bad_dir_path(_ROOT), ()),
    ("vmm-study", "--sizes", st.integers(max_value=1).map(str), ()),
    ("vmm-study", "--targets", st.floats().filter(lambda v: not 0 < v < 1).map(repr), ()),
    ("vmm-study", "--algorithms", _bad_choice({"baseline", "improved", "no-hs"}), ()),
    ("vmm-study", "--results", _bad_dir_path(_ROOT), ("--sizes", "4")),
    ("sweep", "", _bad_dir_path(_ROOT), ()),
    ("plot", "", _bad_dir_path(_ROOT), ()),
    ("calibrate", "--budget", _bad_int, ()),
    ("calibrate", "--size", _bad_int, ()),
    ("calibrate", "--out", _bad_dir_path(_ROOT), ()),
]


def _fuzz(root: Path, command: str, option: str, strategy, extra) -> None:
    _ROOT[:] = [root]

    @given(value=strategy)
    @settings(
        max_examples=_fuzz.examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(value: str) -> None:
        argv = [command, value] if option == "" else [command, option, value]
        _assert_contract(root, [*argv, *extra])

    check()


_fuzz.examples = 3


@pytest.mark.parametrize(
    ("command", "option", "strategy", "extra"),
    OPTIONS,
    ids=[f"{c} {o or 'PATH'}" for c, o, _, _ in OPTIONS],
)
def test_generated_bad_values(root: Path, command: str, option: str, strategy, extra) -> None:
    _fuzz(root, command, option, strategy, extra)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "option", "strategy", "extra"),
    OPTIONS,
    ids=[f"{c} {o or 'PATH'}" for c, o, _, _ in OPTIONS],
)
def test_generated_bad_values_long(
    root: Path, command: str, option: str, strategy, extra, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_fuzz, "examples", 150)
    _fuzz(root, command, option, strategy, extra)
