"""Nonlinearity on any model and V_tune balancing; the nonlinearity study and its bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xbarsim.devices.nonlinearity import PolynomialNonlinearity


@pytest.fixture(autouse=True)
def one_thread():
    from xbarsim.nn import torch_threads

    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def trained():
    from chapter2_fixtures import small_trained_convnet

    return small_trained_convnet()


def test_balancing_matches_the_closed_form_optimum_of_the_polynomial(trained) -> None:
    # thesis-poly: the pair error is b(x) @ (q(G+) - q(G-)) with b = x^2 - x_t x, so the
    # objective is quadratic in x_t with minimum sum(A B) / sum(B^2), A = x^2 @ D, B = x @ D
    from xbarsim.nn.nonlinear import balance_v_tune, column_error, layer_inputs, layer_pairs

    model, data, _ = trained
    nl = PolynomialNonlinearity()
    x_cal = data.x_train[:300]
    best, objective = balance_v_tune(model, nl, x_cal, "mapping1", samples=10**9)
    grid = np.arange(0.002, 0.1 + 1e-12, 0.002)
    assert objective.min() <= objective[np.argmin(np.abs(grid - 0.06))]
    num = den = 0.0
    for rows, p in zip(
        layer_inputs(model, x_cal),
        layer_pairs(model, x_cal, "mapping1", 10e-6, 100e-6),
        strict=True,
    ):
        v = (rows * (0.1 / p.x_max)).double()
        e1 = column_error(nl.model_copy(update={"v_tune_v": 0.02}), v, p)
        e2 = column_error(nl.model_copy(update={"v_tune_v": 0.08}), v, p)
        b = (e1 - e2) / (0.8 - 0.2)  # err = A - x_t B
        a = e1 + 0.2 * b
        n = rows.shape[0] * p.g_plus.shape[1]
        num += float((a * b).sum()) / n
        den += float((b * b).sum()) / n
    assert best / 0.1 == pytest.approx(num / den, abs=0.011)


def test_nonlinear_copy_is_exact_for_a_linear_device(trained) -> None:
    from xbarsim.nn.nonlinear import nonlinear_copy

    model, data, _ = trained
    linear = PolynomialNonlinearity(p01=0.0, p03=0.0, p10=0.0, p20=0.0, p30=0.0)
    copy = nonlinear_copy(model, linear, data.x_train[:200], "mapping2")
    x = torch.as_tensor(data.x_test[:40])
    model.eval()
    torch.testing.assert_close(copy(x), model(x), rtol=1e-5, atol=1e-5)


def test_nonlinearity_study_keys() -> None:
    from xbarsim.experiments.chapter2 import DataSpec
    from xbarsim.experiments.nonlinearity_study import (
        NonlinearityStudySetup,
        run_nonlinearity_study,
    )

    setup = NonlinearityStudySetup(
        models=("convnet",),
        mappings=("rm2",),
        epochs=1,
        data=DataSpec(n_train=200, n_test=60),
        calibration_images=100,
    )
    result = run_nonlinearity_study(setup)
    assert [c["balancing"] for c in result.cases] == ["on", "off"]
    assert result.cases[1]["v_tune_v"] == 0.06
    assert {"model", "dataset", "mapping", "drop", "baseline_software_accuracy"} <= set(
        result.cases[0]
    )


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--balancing", "maybe"], "balancing"),
        (["--mappings", "fm1"], "mappings"),
        (["--nonlinearity", "cubic"], "nonlinearity"),
        (["--models", "alexnet"], "models"),
    ],
)
def test_bad_input(args, field, tmp_path, capsys) -> None:
    from xbarsim.cli import main

    js = tmp_path / "r.json"
    assert main(["nonlinearity-study", *args, "--json", str(js)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and field in err and not js.exists()
