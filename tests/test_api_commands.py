"""The API functions that `vidinterp train`, `bench` and `doctor` are thin layers over, called from Python."""

from __future__ import annotations

import json

import pytest

from vidinterp.errors import UsageError


def test_training_config_is_the_recipe_with_the_settings_over_it(tmp_path):
    from vidinterp.api.train import recipe_defaults, training_config

    config = training_config(tmp_path / "videos", tmp_path / "run", settings={"steps": 7, "lr": None})
    defaults = recipe_defaults()
    assert config.steps == 7 and config.lr == defaults["lr"]  # None leaves the recipe's value
    assert config.data_dir == str(tmp_path / "videos") and config.out_dir == str(tmp_path / "run")
    assert (
        (config.interval_min, config.interval_max, config.clip_length)
        == (2, 4, 5)
        == (defaults["interval_min"], defaults["interval_max"], defaults["clip_length"])
    )


def test_a_wider_interval_grows_the_clip_unless_its_length_is_given(tmp_path):
    from vidinterp.api.train import training_config

    grown = training_config(tmp_path, tmp_path / "run", interval="3-8")
    assert (grown.interval_min, grown.interval_max, grown.clip_length) == (3, 8, 9)
    kept = training_config(tmp_path, tmp_path / "run", interval="2", settings={"clip_length": 6})
    assert (kept.interval_min, kept.interval_max, kept.clip_length) == (2, 2, 6)


def test_loss_and_model_config_from_python_or_files(tmp_path):
    from vidinterp.api.train import training_config

    (tmp_path / "model.json").write_text(json.dumps({"max_displacement": [3]}))
    from_file = training_config(
        tmp_path, tmp_path / "run", loss="charbonnier=1,census=0.5", model_config=tmp_path / "model.json"
    )
    assert from_file.loss == {"charbonnier": 1.0, "census": 0.5} and from_file.model == {"max_displacement": [3]}
    as_mapping = training_config(
        tmp_path, tmp_path / "run", loss=["charbonnier"], model_config={"max_displacement": [2]}
    )
    assert as_mapping.loss == {"charbonnier": 1.0} and as_mapping.model == {"max_displacement": [2]}


@pytest.mark.parametrize(
    "options, says",
    [
        ({"settings": {"stepz": 3}}, "settings: unknown training setting(s) stepz"),
        ({"model_config": "missing.json"}, "cannot read --model-config missing.json"),
        ({"recipe": "no-such-recipe"}, "no-such-recipe"),
    ],
    ids=["unknown setting", "unreadable model config", "unknown recipe"],
)
def test_bad_training_options_are_one_line_errors(tmp_path, options, says):
    from vidinterp.api.train import training_config

    with pytest.raises(UsageError) as raised:
        training_config(tmp_path, tmp_path / "run", **options)
    assert says in str(raised.value) and "\n" not in str(raised.value)


def test_doctor_report_from_python():
    import vidinterp
    from vidinterp.api.doctor import collect_report

    report = collect_report()
    assert report["vidinterp"] == vidinterp.__version__
    assert set(report["backends"]) == {"cuda", "cupy", "torch"} and report["backends"]["torch"]["available"]
    json.dumps(report)  # JSON-ready as it is


def test_bench_from_python_without_the_operator_sweep():
    from vidinterp.api.bench import run_bench

    result = run_bench(skip_ops=True)
    assert set(result) == {"hardware", "versions"} and result["versions"]["torch"]


@pytest.mark.parametrize(
    "options, says",
    [
        ({"ops": ("blur",)}, "--ops: unknown value(s) blur; choose from warp, correlation"),
        ({"dtypes": ("fp8",)}, "--dtypes: unknown value(s) fp8"),
        ({"backend": "nope"}, "nope"),
    ],
)
def test_bench_refuses_unknown_values_before_timing_anything(options, says):
    from vidinterp.api.bench import run_bench

    with pytest.raises(UsageError) as raised:
        run_bench(**options)
    assert says in str(raised.value)


def test_bench_lists_parse_as_the_cli_takes_them():
    from vidinterp.api.bench import parse_ints, parse_list

    assert parse_list(" Warp, correlation ,", "--ops") == ("warp", "correlation")
    assert parse_list(None, "--ops") is None and parse_ints("1,16", "--scales") == (1, 16)
    for text, says in ((",", "at least one value"), ("0", "positive"), ("x", "whole numbers")):
        with pytest.raises(UsageError, match=says):
            parse_ints(text, "--scales")
