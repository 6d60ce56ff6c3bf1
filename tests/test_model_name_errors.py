def test_a_missing_model_folder_is_named_with_the_command_that_makes_one(corpus, run, tmp_path):
    missing = tmp_path / "no-such-model"
    output = run("add", corpus, "--model", missing, "-q", expect=1).output
    assert f"model folder {missing} does not exist" in output
    assert "vindex model export NAME --out" in output
    assert "vindex models" not in output


def test_an_unknown_model_name_points_to_real_choices_not_a_missing_command(corpus, run):
    output = run("add", corpus, "--model", "ViT-Q-99", "-q", expect=1).output
    assert "unknown model 'ViT-Q-99'" in output and "vindex model export" in output
    assert "vindex models" not in output


def test_an_unknown_model_name_is_refused_before_any_conversion_is_announced(corpus, run):
    output = run("add", corpus, "--model", "ViT-Q-99", expect=1).output
    assert "unknown model 'ViT-Q-99'" in output and "converting" not in output
