"""One chip, every effect: the chip spec (layer 5).

A :class:`ChipSpec` holds everything about a simulated chip in one validated,
serializable object: the synapse technology (memristor pairs, or gate-coupled eFlash cells
carrying the chapter-2 current mappings), the device population, the array (kernel size,
pair mapping, mapping range, input voltage), how weights are programmed, the line
resistances, the read path (DAC, TIA with its offsets and their compensation, ADC), the
defect mitigations and the default operating conditions. It is plain data (no torch):
:func:`xbarsim.nn.deploy` reads it. Which effects are on is explicit in the spec
(:meth:`ChipSpec.effects`, :meth:`ChipSpec.summary`), never implied by a default elsewhere.

YAML and JSON round trips are exact (``ChipSpec.from_yaml(spec.to_yaml()) == spec``) and
:meth:`ChipSpec.content_hash` names a spec by its content. Named presets
(:data:`SPEC_PRESETS`) describe the source documents' chips.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xbarsim.crossbar.lines import Lines, lines_from_dict
from xbarsim.devices.config import DeviceConfig, load_device_config, preset
from xbarsim.devices.stuck import StuckFaults
from xbarsim.errors import XbarsimInputError, format_validation_error
from xbarsim.mapping.config import ChipConfig
from xbarsim.mapping.differential import PairMapping
from xbarsim.mapping.state_optimization import StateOptimization
from xbarsim.periphery.read_path import ReadPath, periphery_preset
from xbarsim.programming.algorithm import WriteVerify
from xbarsim.programming.engine import EngineName
from xbarsim.programming.improved import ImprovedTuning
from xbarsim.programming.touch_up import TouchUp
from xbarsim.provenance import config_hash
from xbarsim.validation import describe_parse_error, read_text

_SECTION = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


#: Synapse technologies a spec can name.
TECHNOLOGIES = ("memristor", "eflash")


class SynapseSpec(BaseModel):
    """The synapse technology every weight is carried by.

    Attributes
    ----------
    technology : {"memristor", "eflash"}
        ``memristor``: a pair of memristors per weight, programmed by write-verify (the
        device, programming, lines and read-noise sections apply). ``eflash``: a pair of
        gate-coupled eFlash cells per weight (:class:`~xbarsim.devices.EflashSynapse`),
        tuned to the state currents of the chapter-2 current mapping named by
        ``array.mapping`` (``mapping1`` or ``mapping2``); the die temperature acts through
        the eFlash temperature model, and the read path may follow.
    eflash_design : {"baseline", "thesis"}
        eFlash only: the conventional design point (``dI_max`` = 30 nA with ``I_min`` = 0
        or ``I_b`` = 15 nA) or the thesis's weight-dependent, temperature-robust rule
        (:class:`~xbarsim.mapping.state_optimization.StateOptimization`).
    """

    model_config = _SECTION

    technology: Literal["memristor", "eflash"] = "memristor"
    eflash_design: Literal["baseline", "thesis"] = "baseline"


class DeviceSpec(BaseModel):
    """The device population every kernel is sampled from.

    Attributes
    ----------
    preset : str
        Device preset (:func:`xbarsim.devices.preset`), used when ``file`` is None.
    file : str or None
        A fitted device file (YAML/TOML, :func:`xbarsim.devices.load_device_config`).
    stuck_ppm : float or None
        Stuck devices (ppm, the three kinds in equal parts); None keeps the device's.
    unswitchable_fraction : float or None
        Devices that never switch (fraction); None keeps the device's.
    read_noise_sigma_rel : float or None
        Read-noise standard deviation relative to the conductance; None keeps the
        device's (the read noise is on when ``conditions.read_noise`` is).
    leak_dose : float or None
        Leak floor: dose per write pulse on every driven switchable device, whatever its
        threshold (:attr:`~xbarsim.devices.DeviceConfig.leak_dose`); None keeps the
        device's.
    cycle_to_cycle : float or None
        Cycle-to-cycle variation: the relative standard deviation of the log-normal factor
        (mean 1) on each selected-device pulse's dose
        (:attr:`~xbarsim.devices.DeviceConfig.cycle_to_cycle`); None keeps the device's.
    """

    model_config = _SECTION

    preset: str = "tio2-64x64-paper"
    file: str | None = None
    stuck_ppm: float | None = Field(None, ge=0.0, le=1e6)
    unswitchable_fraction: float | None = Field(None, ge=0.0, le=1.0)
    read_noise_sigma_rel: float | None = Field(None, ge=0.0, le=1.0)
    leak_dose: float | None = Field(None, ge=0.0, le=1.0)
    cycle_to_cycle: float | None = Field(None, ge=0.0, le=10.0)

    def config(self) -> DeviceConfig:
        """The :class:`~xbarsim.devices.DeviceConfig` this section describes."""
        device = preset(self.preset) if self.file is None else load_device_config(self.file)
        if self.stuck_ppm is not None:
            stuck = StuckFaults.mixed(self.stuck_ppm)
            conditions = device.conditions.model_copy(update={"stuck": stuck})
            device = device.model_copy(update={"conditions": conditions})
        if self.unswitchable_fraction is not None:
            faults = device.faults.model_copy(
                update={"unswitchable_fraction": self.unswitchable_fraction}
            )
            device = device.model_copy(update={"faults": faults})
        if self.read_noise_sigma_rel is not None:
            noise = device.conditions.read_noise.model_copy(
                update={"sigma_rel": self.read_noise_sigma_rel}
            )
            conditions = device.conditions.model_copy(update={"read_noise": noise})
            device = device.model_copy(update={"conditions": conditions})
        dynamics = {name: value for name, value in (("leak_dose", self.leak_dose),
                                                    ("cycle_to_cycle", self.cycle_to_cycle))
                    if value is not None}
        device = device.model_copy(update=dynamics)
        return DeviceConfig.model_validate(device.model_dump())


class ArraySpec(BaseModel):
    """Kernels and the weight-to-conductance pair mapping.

    Attributes
    ----------
    kernel : int
        Kernel size N (N x N crossbars).
    mapping : {"differential", "mapping1", "mapping2"}
        Pair mapping of a weight onto its ``G+`` / ``G-`` devices.
    g_low_s, g_high_s : float
        Mapping range (S).
    input_voltage_v : float
        Row voltage of an input of 1 (V).
    """

    model_config = _SECTION

    kernel: int = Field(64, ge=1, le=4096)
    mapping: PairMapping = "differential"
    g_low_s: float = Field(10e-6, gt=0.0, lt=1.0)
    g_high_s: float = Field(100e-6, gt=0.0, lt=1.0)
    input_voltage_v: float = Field(0.1, gt=0.0, le=1.0)


#: Programming algorithms a spec can name.
ALGORITHMS = ("thesis", "paper", "improved", "ideal")


class ProgrammingSpec(BaseModel):
    """How weights are written.

    Attributes
    ----------
    algorithm : {"thesis", "paper", "improved", "ideal"}
        Thesis write-verify, the paper's variant (amplitude cap, abandoning), the improved
        tuning, or ``ideal`` (targets loaded exactly).
    tolerance : float or None
        Tuning tolerance (fraction); None keeps the algorithm's.
    max_amplitude_v : float or None
        Amplitude cap (V); None keeps the algorithm's.
    stuck_detection : bool
        Declare a device that does not move at the bound stuck and abandon it (applied
        when the write-verify algorithm offers that rule).
    through_lines : bool
        Verify reads see the line resistance (IR drop compensated in programming).
    tune_padding : bool
        Also write-verify the kernel cells that carry no weight (zero padding); off by
        default, so their ramps cannot disturb the weights' rows and columns.
    touch_up_passes : int
        Touch-up passes under ``touch_up_cap_v`` after thesis or paper write-verify
        (:mod:`xbarsim.programming.touch_up`); 0 for none.
    touch_up_cap_v : float
        Amplitude cap of the touch-up passes (V).
    engine : str
        Programming engine.
    """

    model_config = _SECTION

    algorithm: Literal["thesis", "paper", "improved", "ideal"] = "thesis"
    tolerance: float | None = Field(None, gt=0.0, lt=1.0)
    max_amplitude_v: float | None = Field(None, gt=0.0, le=20.0)
    stuck_detection: bool = True
    through_lines: bool = False
    tune_padding: bool = False
    touch_up_passes: int = Field(2, ge=0, le=100)
    touch_up_cap_v: float = Field(1.6, gt=0.0, le=20.0)
    engine: EngineName = "auto"

    def touch_up(self) -> TouchUp | None:
        """The touch-up passes (None when ``touch_up_passes`` is 0)."""
        if self.touch_up_passes == 0:
            return None
        return TouchUp(passes=self.touch_up_passes, cap_v=self.touch_up_cap_v)

    def algorithm_config(self) -> WriteVerify | ImprovedTuning | None:
        """The algorithm object (None for ``ideal``)."""
        if self.algorithm == "ideal":
            return None
        overrides: dict[str, object] = {}
        if self.tolerance is not None:
            overrides["tolerance"] = self.tolerance
        if self.max_amplitude_v is not None:
            overrides["max_amplitude_v"] = self.max_amplitude_v
        if "stuck_detection" in WriteVerify.model_fields:
            overrides["stuck_detection"] = self.stuck_detection
        if self.algorithm == "paper":
            return WriteVerify.paper(**overrides)
        base = WriteVerify.thesis(**overrides)
        return base if self.algorithm == "thesis" else ImprovedTuning(base=base)


class LinesSpec(BaseModel):
    """Line resistances of every kernel: a preset with optional overrides (Ω).

    Attributes
    ----------
    preset : str
        :func:`xbarsim.crossbar.lines_preset` name (``ideal``: no line resistance).
    r_row_ohm, r_col_ohm, r_source_ohm, r_sink_ohm : float or None
        Overrides of the preset's segment, driver and sink resistances (Ω).
    """

    model_config = _SECTION

    preset: str = "ideal"
    r_row_ohm: float | None = Field(None, ge=0.0, le=1.0e9)
    r_col_ohm: float | None = Field(None, ge=0.0, le=1.0e9)
    r_source_ohm: float | None = Field(None, ge=0.0, le=1.0e9)
    r_sink_ohm: float | None = Field(None, ge=0.0, le=1.0e9)

    def config(self) -> Lines:
        """The :class:`~xbarsim.crossbar.Lines` this section describes."""
        data = {k: v for k, v in self.model_dump().items() if v is not None}
        return lines_from_dict(data)


class ReadPathSpec(BaseModel):
    """The converters and amplifiers around every layer.

    Attributes
    ----------
    preset : {"none", "thesis", "thesis-8bit"}
        Read path (:func:`xbarsim.periphery.periphery_preset`); ``none``: exact reads.
    offset_sigma_v : float
        Standard deviation of the TIAs' input-referred offsets (V); 0 for none.
    offset_limit_v : float
        Offsets are truncated to +/- this (V).
    offset_compensation : bool
        Cancel every TIA's offset with its memristor compensation pair.
    calibration_inputs : int
        Inputs the converter ranges are calibrated on.
    """

    model_config = _SECTION

    preset: Literal["none", "thesis", "thesis-8bit"] = "none"
    offset_sigma_v: float = Field(0.0, ge=0.0, le=1.0)
    offset_limit_v: float = Field(0.1, gt=0.0, le=1.0)
    offset_compensation: bool = False
    calibration_inputs: int = Field(256, ge=1, le=1_000_000)

    def config(self) -> ReadPath | None:
        """The :class:`~xbarsim.periphery.ReadPath` (None for exact reads)."""
        return periphery_preset(self.preset)


#: Stuck-device mitigations a spec can name.
MITIGATIONS = ("none", "pair", "pair+column")


class MitigationSpec(BaseModel):
    """Defect and drift mitigations.

    Attributes
    ----------
    kind : {"none", "pair", "pair+column"}
        Stuck-device mitigations: pair retuning, plus the compensation column with
        batch-norm recalibration.
    calibration_images : int
        Images for the compensation column and the batch-norm recalibration.
    recalibrate_bn : bool
        Re-estimate batch-norm running means after compensation.
    reference_bn_k : int
        Temperature-reference batch norm with ``k`` references; 0 for none.
    state_optimization : bool
        Choose the conductance pair of every weight to minimize drift (designed states).
    balancing : bool
        Tune the devices at the voltage that balances the I-V nonlinearity's error over
        the model's calibration inputs (:func:`xbarsim.nn.balance_v_tune`).
    """

    model_config = _SECTION

    kind: Literal["none", "pair", "pair+column"] = "none"
    calibration_images: int = Field(1500, ge=1)
    recalibrate_bn: bool = True
    reference_bn_k: int = Field(0, ge=0, le=64)
    state_optimization: bool = False
    balancing: bool = False


class ConditionsSpec(BaseModel):
    """Default operating conditions and the effects read at them.

    Attributes
    ----------
    temp_c : float
        Die temperature (degrees C).
    age_h : float
        Hours since programming (at ``bake_c``).
    bake_c : float or None
        Storage temperature while ageing (degrees C); None: room temperature.
    nonlinearity : bool
        Devices follow their I-V nonlinearity.
    nonlinear_solver : {"linearized", "newton"}
        With line resistance: ``linearized`` solves the line network on the devices'
        chord conductances at the read voltage of their row; ``newton`` solves every input
        exactly (slow).
    line_update : {"exact", "first-order"}
        With line resistance, the effective matrices at a condition: ``exact`` solves the
        line network on the conductances at the condition; ``first-order`` updates the
        exact matrices of the programmed conductances by the first-order change
        (:func:`xbarsim.crossbar.irdrop.updated_matrix`; ~0.5 % of the largest entry for
        a 5 % conductance change on 64 x 64 paper lines, many times faster).
    read_noise : bool
        Read noise on every output.
    strict : bool
        Refuse extrapolation outside the fitted ranges instead of warning.
    """

    model_config = _SECTION

    temp_c: float = Field(25.0, ge=-273.15, le=1000.0)
    age_h: float = Field(0.0, ge=0.0)
    bake_c: float | None = Field(None, ge=-273.15, le=1000.0)
    nonlinearity: bool = False
    nonlinear_solver: Literal["linearized", "newton"] = "linearized"
    line_update: Literal["exact", "first-order"] = "exact"
    read_noise: bool = False
    strict: bool = False


class ChipSpec(BaseModel):
    """A whole chip: devices, array, programming, lines, read path, mitigations, conditions.

    Attributes
    ----------
    name : str
        Free-form label.
    synapse, device, array, programming, lines, read_path, mitigation, conditions
        The sections (:class:`SynapseSpec`, :class:`DeviceSpec`, :class:`ArraySpec`,
        :class:`ProgrammingSpec`, :class:`LinesSpec`, :class:`ReadPathSpec`,
        :class:`MitigationSpec`, :class:`ConditionsSpec`).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    name: str = "custom"
    synapse: SynapseSpec = Field(default_factory=SynapseSpec)
    device: DeviceSpec = Field(default_factory=DeviceSpec)
    array: ArraySpec = Field(default_factory=ArraySpec)
    programming: ProgrammingSpec = Field(default_factory=ProgrammingSpec)
    lines: LinesSpec = Field(default_factory=LinesSpec)
    read_path: ReadPathSpec = Field(default_factory=ReadPathSpec)
    mitigation: MitigationSpec = Field(default_factory=MitigationSpec)
    conditions: ConditionsSpec = Field(default_factory=ConditionsSpec)

    # --- what the spec builds ----------------------------------------------------------

    def chip_config(self) -> ChipConfig:
        """The :class:`~xbarsim.mapping.ChipConfig` (device, array, programming)."""
        a = self.array
        try:
            return ChipConfig(
                device=self.device.config(),
                kernel=a.kernel,
                mapping=a.mapping,
                g_low_s=a.g_low_s,
                g_high_s=a.g_high_s,
                algorithm=self.programming.algorithm_config(),
                engine=self.programming.engine,
                input_voltage_v=a.input_voltage_v,
                tune_padding=self.programming.tune_padding,
                touch_up=self.programming.touch_up(),
            )
        except ValidationError as exc:
            raise XbarsimInputError(f"array: {format_validation_error(exc)}") from None

    @property
    def eflash(self) -> bool:
        """Whether the synapses are gate-coupled eFlash cells."""
        return self.synapse.technology == "eflash"

    def eflash_design(self) -> StateOptimization:
        """The eFlash current-mapping design (stack, ``array.mapping``, ``dI_max``, rule).

        Raises
        ------
        XbarsimInputError
            For a memristor spec, or an array mapping that is not a current mapping.
        """
        if not self.eflash:
            raise XbarsimInputError("synapse.technology: the spec's synapses are memristors")
        if self.array.mapping not in ("mapping1", "mapping2"):
            raise XbarsimInputError(
                f"array.mapping: an eFlash pair carries a weight by a chapter-2 current "
                f"mapping; set mapping1 or mapping2, got {self.array.mapping!r}"
            )
        return StateOptimization.for_case(
            "fm1" if self.array.mapping == "mapping1" else "fm2", self.synapse.eflash_design
        )

    def lines_config(self) -> Lines | None:
        """The line resistances, or None for ideal lines."""
        lines = self.lines.config()
        return None if lines.is_ideal else lines

    def effects(self) -> dict[str, bool]:
        """Which effects are on (name -> on), in the physics' composition order."""
        c, r, m = self.conditions, self.read_path, self.mitigation
        device = self.device.config()
        programmed = self.programming.algorithm != "ideal"
        return {
            "eflash": self.eflash,
            "programming": programmed,
            "leak_floor": programmed and device.leak_dose > 0.0,
            "cycle_to_cycle": programmed and device.cycle_to_cycle > 0.0,
            "stuck_devices": not self.eflash and device.conditions.stuck.total_ppm > 0.0,
            "temperature": c.temp_c != 25.0,
            "retention": c.age_h > 0.0,
            "nonlinearity": c.nonlinearity,
            "lines": self.lines_config() is not None,
            "read_noise": c.read_noise,
            "read_path": r.preset != "none",
            "tia_offset": r.offset_sigma_v > 0.0,
            "offset_compensation": r.offset_compensation,
            "mitigation": m.kind != "none",
            "balancing": m.balancing,
        }

    def summary(self) -> str:
        """One line naming the spec, its hash and the effects that are on."""
        on = [name for name, value in self.effects().items() if value]
        return (
            f"chip {self.name} [{self.content_hash()}]: {self.synapse.technology} "
            f"synapses, kernel {self.array.kernel}, "
            f"{self.programming.algorithm} programming, lines {self.lines.preset}, read path "
            f"{self.read_path.preset}, effects: {', '.join(on) if on else 'none'}"
        )

    def check(self) -> ChipSpec:
        """Resolve every section and refuse combinations without physical meaning.

        Returns
        -------
        ChipSpec
            ``self``.

        Raises
        ------
        XbarsimInputError
            One line naming the field and the reason.
        """
        self.chip_config()
        self.lines_config()
        r, c = self.read_path, self.conditions
        if (r.offset_sigma_v > 0.0 or r.offset_compensation) and r.preset == "none":
            raise XbarsimInputError(
                "read_path.offset_sigma_v: TIA offsets need a read path with a TIA "
                "(read_path.preset thesis or thesis-8bit)"
            )
        if r.offset_compensation and r.offset_sigma_v == 0.0:
            raise XbarsimInputError(
                "read_path.offset_compensation: there is no offset to compensate "
                "(read_path.offset_sigma_v is 0)"
            )
        if c.nonlinear_solver == "newton" and not c.nonlinearity:
            raise XbarsimInputError(
                "conditions.nonlinear_solver: newton solves nonlinear devices; set "
                "conditions.nonlinearity true or use linearized"
            )
        if self.programming.through_lines and self.lines_config() is None:
            raise XbarsimInputError(
                "programming.through_lines: the lines are ideal; there is no line drop to "
                "program through"
            )
        if self.eflash:
            self.eflash_design()
            reason = _memristor_only(self)
            if reason is not None:
                raise XbarsimInputError(f"{reason} (synapse.technology is eflash)")
        return self

    # --- serialization -----------------------------------------------------------------

    def to_json(self) -> str:
        """Canonical JSON text."""
        return json.dumps(self.model_dump(mode="json"), indent=1) + "\n"

    def to_yaml(self) -> str:
        """YAML text (``ChipSpec.from_yaml`` gives back an equal spec)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> ChipSpec:
        """Parse YAML (or JSON) text with ``yaml.safe_load``; see :func:`spec_from_dict`."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise XbarsimInputError(f"spec: not valid YAML/JSON: {describe_parse_error(exc)}"
                                    ) from None
        return spec_from_dict(data)

    def content_hash(self, exclude: set[str] | None = None) -> str:
        """SHA-256 (16 hex digits) of the canonical JSON: equal specs, equal hashes.

        Fields left at None ("keep the preset's value") are not part of it, so a spec keeps
        its hash, and ``evaluate`` its chip instances, when a later version adds such a
        field. ``exclude`` names top-level sections left out as well (e.g. the default
        operating conditions, which do not change what a chip instance is).
        """
        return config_hash(self.model_dump(mode="json", exclude=exclude, exclude_none=True))


def _memristor_only(spec: ChipSpec) -> str | None:
    """The first memristor-only effect ``spec`` switches on, as ``field: reason``; None
    when every effect it asks for applies to eFlash cells."""
    d, c, r, m = spec.device, spec.conditions, spec.read_path, spec.mitigation
    checks = [
        (spec.programming.algorithm != "ideal",
         "programming.algorithm: write-verify with V/2 half-select pulses is a memristor "
         "crossbar algorithm; eFlash cells are tuned to their state currents (use ideal)"),
        (spec.lines_config() is not None,
         "lines.preset: the line-resistance model is a resistive crossbar's; a gate-coupled "
         "eFlash array has none here (use ideal)"),
        (d.stuck_ppm is not None or d.unswitchable_fraction is not None,
         "device.stuck_ppm: stuck and unswitchable devices are memristor faults; there is no "
         "eFlash fault model"),
        (d.leak_dose is not None or d.cycle_to_cycle is not None,
         "device.leak_dose: the leak floor and cycle-to-cycle variation are memristor pulse "
         "dynamics; eFlash cells are not pulsed here"),
        (d.read_noise_sigma_rel is not None or c.read_noise,
         "conditions.read_noise: the read-noise model is a memristor's conductance noise"),
        (c.age_h > 0.0 or c.bake_c is not None,
         "conditions.age_h: the retention model is the memristor's; there is no eFlash "
         "retention model"),
        (c.nonlinearity,
         "conditions.nonlinearity: the I-V nonlinearity is the memristor's; the eFlash "
         "synapse's own nonlinearity is not composed with the chip"),
        (r.offset_sigma_v > 0.0,
         "read_path.offset_sigma_v: a TIA offset acts through the column's conductances "
         "and is compensated by a memristor pair; an eFlash column is a current source"),
        (m.kind != "none",
         "mitigation.kind: pair retuning and the compensation column mitigate stuck "
         "memristors"),
        (m.balancing,
         "mitigation.balancing: it balances the memristor I-V nonlinearity"),
        (m.state_optimization,
         "mitigation.state_optimization: for eFlash it is synapse.eflash_design thesis"),
    ]
    return next((reason for on, reason in checks if on), None)


def spec_from_dict(data: object) -> ChipSpec:
    """Validate a mapping into a :class:`ChipSpec`; a top-level ``preset`` key names the
    base and the other keys override its sections field by field.

    Raises
    ------
    XbarsimInputError
        One line naming the first bad field.
    """
    if not isinstance(data, dict):
        raise XbarsimInputError("spec: must hold a mapping of sections")
    data = dict(data)
    base: dict = spec_preset(str(data.pop("preset"))).model_dump() if "preset" in data else {}
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    try:
        spec = ChipSpec.model_validate(base)
    except ValidationError as exc:
        raise XbarsimInputError(f"spec: {format_validation_error(exc)}") from None
    return spec.check()


def load_spec(path: str | Path) -> ChipSpec:
    """Read a spec file (YAML or JSON, parsed with ``yaml.safe_load``) and check it."""
    return ChipSpec.from_yaml(read_text(path, "spec"))


#: Named chips of the source documents.
SPEC_PRESETS = ("paper-64x64", "thesis-mlp-chip", "ideal", "eflash-fm2")


def spec_preset(name: str) -> ChipSpec:
    """A named chip.

    ``paper-64x64``: the paper's 64 x 64 Al2O3/TiO2-x crossbar: its device population
    (1.1 % unswitchable), 64 x 64 kernels, the paper's write-verify (2.5 V cap, abandoning,
    5 %, no touch-up), its aluminium lines, exact reads. ``thesis-mlp-chip``: the thesis's
    784-64-10 MLP chip: 64 x 64 tiles of the thesis's uniform devices, thesis write-verify
    (no touch-up), the 5-bit DAC -> measured TIA -> 5-bit ADC read path. ``ideal``: targets
    loaded exactly, no effect on. ``eflash-fm2``: the thesis's chapter-2 gate-coupled eFlash
    stack with the balanced current mapping (mapping 2) at its baseline design point, cells
    tuned exactly; the die temperature acts through the eFlash temperature model.

    Raises
    ------
    XbarsimInputError
        For an unknown name.
    """
    if name == "paper-64x64":
        return ChipSpec(
            name=name,
            device=DeviceSpec(preset="tio2-64x64-paper"),
            programming=ProgrammingSpec(algorithm="paper", touch_up_passes=0),
            lines=LinesSpec(preset="paper"),
        )
    if name == "thesis-mlp-chip":
        return ChipSpec(
            name=name,
            device=DeviceSpec(preset="thesis-uniformity"),
            programming=ProgrammingSpec(algorithm="thesis", touch_up_passes=0),
            read_path=ReadPathSpec(preset="thesis"),
        )
    if name == "ideal":
        return ChipSpec(
            name=name,
            device=DeviceSpec(preset="thesis-uniformity"),
            programming=ProgrammingSpec(algorithm="ideal"),
        )
    if name == "eflash-fm2":
        return ChipSpec(
            name=name,
            synapse=SynapseSpec(technology="eflash"),
            device=DeviceSpec(preset="thesis-uniformity"),
            array=ArraySpec(mapping="mapping2"),
            programming=ProgrammingSpec(algorithm="ideal"),
        )
    raise XbarsimInputError(
        f"preset: unknown chip preset {name!r}; allowed: {', '.join(SPEC_PRESETS)}"
    )
