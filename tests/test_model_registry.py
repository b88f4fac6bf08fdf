"""Registry and presets: parameter counts beside the papers' figures, FLOPs, model info, YAML validation."""

from __future__ import annotations

import pytest
import torch

from datasets import config as config_module
from datasets.config import ConfigError
from lifting.models import (
    MODELS,
    MixSTEConfig,
    available_presets,
    build_model,
    format_model_info,
    load_model_config,
    model_info,
)
from lifting.models import registry as registry_module
from lifting.models.info import count_flops

# Tolerances: Uplift-and-Upsample, MixSTE and MixSTE-TMT within 1 %, Strided Transformer within 2 %.
PAPER_PRESETS = {
    ("uplift-upsample", "h36m-351"): 0.01,
    ("uplift-upsample", "h36m-81"): 0.01,
    ("mixste", "h36m-243"): 0.01,
    ("mixste", "h36m-81"): 0.01,
    ("mixste-tmt", "h36m-243"): 0.01,
    ("strided", "h36m-351"): 0.02,
    ("strided", "h36m-81"): 0.02,
}

# Exact counts measured from the authors' released code (docs/references.md): our models are the same size.
RELEASED_CODE_PARAMETERS = {
    ("uplift-upsample", "h36m-351"): (10_404_902, 10_385_267),
    ("uplift-upsample", "h36m-81"): (10_377_254, 10_357_619),
    ("mixste", "3dhp-27"): (33_673_219, None),
    ("mixste", "h36m-81"): (33_700_867, None),
    ("mixste", "h36m-243"): (33_783_811, None),
    ("mixste-tmt", "h36m-243"): (33_785_347, None),
    ("strided", "h36m-27"): (4_014_438, 4_000_819),
    ("strided", "h36m-81"): (4_069_734, 4_056_115),
    ("strided", "h36m-243"): (4_235_622, 4_222_003),
    ("strided", "h36m-351"): (4_346_214, 4_332_595),
}

# FLOPs of one forward pass at batch 1 from the released code (docs/references.md), GFLOPs, 2 per multiply-add.
RELEASED_CODE_GIGAFLOPS = {
    ("mixste", "3dhp-27"): 31.14,
    ("mixste", "h36m-81"): 94.63,
    ("mixste", "h36m-243"): 294.85,
    ("mixste-tmt", "h36m-243"): 294.86,
    ("strided", "h36m-27"): 0.130,
    ("strided", "h36m-81"): 0.369,
    ("strided", "h36m-243"): 1.357,
    ("strided", "h36m-351"): 2.120,
    ("uplift-upsample", "h36m-81"): 0.595,
    ("uplift-upsample", "h36m-351"): 1.051,
}


def test_parameter_counts_match_the_papers_within_the_issue_tolerances():
    rows, failures = [], []
    for (model, preset), tolerance in PAPER_PRESETS.items():
        info = model_info(model, preset)
        difference = info.paper_relative_difference
        rows.append(
            f"{model:16s} {preset:9s} {info.parameters:>12,d} {info.compared_parameters:>12,d} "
            f"{info.paper_parameters / 1e6:>7.2f} M  {100 * difference:+6.2f} %  (tolerance {100 * tolerance:.0f} %)"
        )
        if abs(difference) > tolerance:
            failures.append(rows[-1])
    header = f"{'model':16s} {'preset':9s} {'parameters':>12s} {'compared':>12s} {'paper':>9s}  difference"
    print("\n" + "\n".join([header, *rows]))
    assert not failures, failures


@pytest.mark.parametrize(("model", "preset"), sorted(RELEASED_CODE_PARAMETERS))
def test_parameter_counts_equal_the_released_code(model, preset):
    info = model_info(model, preset)
    assert (info.parameters, info.parameters_without_sequence_head) == RELEASED_CODE_PARAMETERS[model, preset]


@pytest.mark.parametrize(("model", "preset"), sorted(RELEASED_CODE_GIGAFLOPS))
def test_flops_match_the_released_code(model, preset):
    info = model_info(model, preset)
    assert info.flops_per_forward / 1e9 == pytest.approx(RELEASED_CODE_GIGAFLOPS[model, preset], rel=0.005)


def test_mixste_flops_split_into_linear_and_attention_as_measured():
    """docs/references.md, MixSTE T = 243: 277.25 G in weight layers, 17.60 G in the attention products."""
    info = model_info("mixste", "h36m-243")
    assert info.flops_by_kind["weights"] / 1e9 == pytest.approx(277.25, rel=0.001)
    assert info.flops_by_kind["attention"] / 1e9 == pytest.approx(17.60, rel=0.001)


def test_demo_flops_by_hand():
    """MixSTE demo (J 17, T 27, d 32, depth 2, MLP 64) at batch 1, 2 FLOPs per multiply-add.

    Tokens n = 17 * 27 = 459. Embedding 2 -> 32: 2 * 459 * 64 = 58,752. Per block: qkv 32 * 96 = 3,072,
    projection 32 * 32 = 1,024, MLP 32 * 64 + 64 * 32 = 4,096 multiply-adds per token, 8,192 in all:
    2 * 459 * 8,192 = 7,520,256; four blocks 30,081,024. Head 32 -> 3: 2 * 459 * 96 = 88,128.
    Weights: 58,752 + 30,081,024 + 88,128 = 30,227,904.
    Attention per spatial block 2 * 2 * 27 * 17^2 * 32 = 998,784; per temporal block 2 * 2 * 17 * 27^2 * 32
    = 1,586,304; two of each: 5,170,176.
    In all 35,398,080 FLOPs = 17,699,040 multiply-adds (15,113,952 in weights + 2,585,088 in attention).
    MixSTE is seq2seq: one forward yields all 27 frames, 35,398,080 / 27 = 1,311,040 FLOPs per output frame.
    """
    info = model_info("mixste", "demo")
    assert dict(info.flops_by_kind) == {"weights": 30_227_904, "attention": 5_170_176}
    assert (info.flops_per_forward, info.multiply_adds_per_forward) == (35_398_080, 17_699_040)
    assert (info.output_frames_per_forward, info.flops_per_output_frame) == (27, 1_311_040)


@pytest.mark.parametrize(("model", "frames"), [("strided", 1), ("strided-tmt", 1), ("uplift-upsample", 5)])
def test_output_frames_per_forward_of_centre_frame_models(model, frames):
    """The Strided Transformer predicts the centre frame only; Uplift-and-Upsample's demo (s_out = 5) yields
    the 5 frames from one centre prediction to the next, so FLOPs per output frame divide by 5."""
    info = model_info(model, "demo")
    assert info.output_frames_per_forward == frames
    assert info.flops_per_output_frame * frames == pytest.approx(info.flops_per_forward)


def test_count_flops_splits_a_hand_counted_module():
    """A Linear 3 -> 4 on 5 tokens costs 5 * 3 * 4 = 60 multiply-adds = 120 FLOPs (bias not counted); the
    attention-like product (1, 5, 4) @ (1, 4, 5) costs 5 * 4 * 5 = 100 multiply-adds = 200 FLOPs."""

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(3, 4)

        def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
            hidden = self.linear(keypoints)  # (1, 5, 4)
            return torch.bmm(hidden, hidden.transpose(1, 2))  # (1, 5, 5)

    flops, shapes = count_flops(Tiny(), {"keypoints": torch.zeros(1, 5, 3)})
    assert dict(flops) == {"weights": 120, "attention": 200}
    assert shapes == {"output": (1, 5, 5)}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_preset_loads_and_prints_its_model_info(model):
    presets = available_presets(model)
    assert "demo" in presets
    for preset in presets:
        text = format_model_info(model_info(model, preset))
        assert f"{model} (preset {preset})" in text
        assert "FLOPs per forward" in text and "multiply-adds" in text and "FLOPs per output frame" in text


def test_model_info_text_for_uplift_names_inputs_outputs_and_the_paper():
    text = format_model_info(model_info("uplift-upsample", "h36m-351"))
    assert "keypoints (1, 71, 17, 2), key_frame_mask (1, 71)" in text
    assert "sequence (1, 71, 17, 3), centre (1, 17, 3)" in text
    assert "10,404,902" in text and "10,385,267" in text and "10.39 M (without sequence head" in text


def test_overrides_replace_preset_values_and_unknown_keys_are_named():
    config = load_model_config("mixste", "demo", {"depth": 3})
    assert isinstance(config, MixSTEConfig) and config.depth == 3 and config.max_frames == 27
    with pytest.raises(ConfigError, match=r"overrides: unknown key\(s\) \['layers'\]; valid keys: .*depth"):
        load_model_config("mixste", "demo", {"layers": 3})
    tmt = load_model_config("mixste-tmt", "demo", {"backbone_overrides": {"depth": 1}})
    assert tmt.backbone_config.depth == 1 and tmt.backbone_config.input_channels == 5
    with pytest.raises(ConfigError, match="No preset 'h36m-9999' for models/mixste.*Available: .*demo"):
        build_model("mixste", "h36m-9999")
    with pytest.raises(KeyError, match="unknown model 'poseformer'"):
        available_presets("poseformer")


def test_preset_files_with_unknown_keys_are_rejected_naming_file_and_key(tmp_path, monkeypatch):
    (tmp_path / "mixste").mkdir()
    (tmp_path / "mixste" / "broken.yaml").write_text("depth: 2\nchannels: 64  # not a MixSTEConfig field\n")
    (tmp_path / "mixste" / "listy.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "mixste" / "typed.yaml").write_text("depth: two\n")
    monkeypatch.setattr(config_module, "PRESETS_DIRECTORY", tmp_path.parent)
    monkeypatch.setattr(registry_module, "PRESETS_GROUP", tmp_path.name)
    with pytest.raises(ConfigError, match=r"broken\.yaml.*: unknown key\(s\) \[.channels.\].*depth"):
        load_model_config("mixste", "broken")
    with pytest.raises(ConfigError, match=r"typed\.yaml: depth: Input should be a valid integer.*\(got 'two'\)"):
        load_model_config("mixste", "typed")
    with pytest.raises(ConfigError, match="must hold a YAML mapping"):
        load_model_config("mixste", "listy")
    assert available_presets("mixste") == ["broken", "listy", "typed"]


def test_yaml_lists_become_tuples_so_configs_stay_hashable():
    config = load_model_config("uplift-upsample", "h36m-81")
    assert config.paddings == ((1, 1), (0, 0), (0, 0)) and config.input_strides == (4, 10, 20)
    assert hash(config) == hash(load_model_config("uplift-upsample", "h36m-81"))


def test_build_model_gives_a_cpu_model_in_training_mode():
    torch.manual_seed(0)
    model = build_model("strided")
    assert model.training and next(model.parameters()).device.type == "cpu"
    assert model.config.frames == 27
