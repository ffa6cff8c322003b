"""DAC → array → TIA → ADC in the forward pass of deployed networks."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from xbarsim.errors import XbarsimInputError  # noqa: E402
from xbarsim.mapping import ChipConfig  # noqa: E402
from xbarsim.nn import deploy  # noqa: E402
from xbarsim.nn.periphery import attach_periphery  # noqa: E402
from xbarsim.periphery import ADC, DAC, TIA, ReadPath  # noqa: E402

EXACT = ChipConfig(kernel=8, algorithm=None)


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 9), nn.ReLU(), nn.Linear(9, 4)).double().eval()


def test_transparent_chain_changes_nothing():
    model = deploy(_mlp(), EXACT)
    x = torch.rand(64, 12, dtype=torch.float64)
    with torch.no_grad():
        ideal = model(x)
        handle = attach_periphery(model, ReadPath(dac=None, adc=None,
                                                  tia=TIA(open_loop_gain=1e12)), x)
        torch.testing.assert_close(model(x), ideal, rtol=1e-9, atol=1e-12)
    assert all(r["tia_saturation_rate"] == 0 for r in handle.rates().values())


def test_five_bit_converters_quantize_and_count_clipping():
    model = deploy(_mlp(), EXACT)
    x = torch.rand(200, 12, dtype=torch.float64)
    with torch.no_grad():
        ideal = model(x)
        handle = attach_periphery(model, ReadPath.thesis(), x)
        out = model(x)
        # calibrated on these samples: nothing clips, but 5-bit reads are coarse
        assert set(handle.rates()) == {"0", "2"}
        assert all(v == 0.0 for r in handle.rates().values() for v in r.values())
        err = float((out - ideal).abs().max() / ideal.abs().max())
        assert 1e-4 < err < 0.2
        finer = deploy(_mlp(), EXACT)
        fine = attach_periphery(finer, ReadPath(dac=DAC(bits=12), adc=ADC(bits=12)), x)
        assert float((finer(x) - ideal).abs().max() / ideal.abs().max()) < err / 10
        # inputs beyond the calibrated range clip in the DAC and saturate the TIAs
        handle.reset_counts()
        model(3 * x)
        rates = handle.rates()["0"]
        assert rates["dac_clip_rate"] > 0.5 and handle.rates()["2"]["tia_saturation_rate"] > 0
        handle.remove()
        torch.testing.assert_close(model(x), ideal)
    assert fine.layers[0].dac.full_scale_v == pytest.approx(float(x.max()) * 0.1)


def test_signed_inputs_get_a_bipolar_dac_and_conv_layers_work():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Flatten(),
                        nn.Linear(3 * 16, 5)).double().eval()
    model = deploy(net, EXACT)
    x = torch.randn(8, 2, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        ideal = model(x)
        handle = attach_periphery(model, ReadPath(dac=DAC(bits=10), adc=ADC(bits=10)), x)
        out = model(x)
    assert handle.layers[0].dac.bipolar
    assert float((out - ideal).abs().max() / ideal.abs().max()) < 0.02


def test_refuses_undeployed_models_and_zero_samples():
    with pytest.raises(XbarsimInputError, match="deployed"):
        attach_periphery(_mlp(), ReadPath.thesis(), torch.rand(2, 12, dtype=torch.float64))
    with pytest.raises(XbarsimInputError, match="zero inputs"):
        attach_periphery(deploy(_mlp(), EXACT), ReadPath.thesis(),
                         torch.zeros(2, 12, dtype=torch.float64))


def test_torch_converters_equal_the_converter_models():
    import numpy as np

    from xbarsim.nn.periphery import adc_levels, dac_levels, tia_output

    rng = np.random.default_rng(0)
    v = rng.uniform(-0.4, 0.4, 5000)
    dac = DAC(bits=5, full_scale_v=0.28, bipolar=True)
    value, clipped = dac_levels(dac, torch.as_tensor(v))
    ref = dac.convert(v)
    np.testing.assert_array_equal(value.numpy(), ref.value)
    np.testing.assert_array_equal(clipped.numpy(), ref.clipped)
    tia = TIA(offset_v=0.01)
    i = rng.uniform(-2e-4, 2e-4, 5000)
    out, sat = tia_output(tia, torch.as_tensor(i))
    np.testing.assert_allclose(out.numpy(), tia.output(i).v_out, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(sat.numpy(), tia.output(i).saturated)
    adc = ADC(bits=6)
    w = rng.uniform(0.0, 1.4, 5000)
    value, clipped = adc_levels(adc, torch.as_tensor(w))
    np.testing.assert_allclose(value.numpy(), adc.convert(w).value, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(clipped.numpy(), adc.convert(w).clipped)


def test_inactive_read_path_reads_out_ideally():
    model = deploy(_mlp(), EXACT)
    x = torch.rand(32, 12, dtype=torch.float64)
    with torch.no_grad():
        ideal = model(x)
        handle = attach_periphery(model, ReadPath.thesis(), x)
        quantized = model(x)
        handle.set_active(False)
        assert torch.equal(model(x), ideal)
        handle.set_active(True)
        assert torch.equal(model(x), quantized)
