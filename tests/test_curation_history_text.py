import json

from tests.test_curation import clustered, clustered_template  # noqa: F401  (fixtures)


def test_history_shows_video_ids_and_the_noise_as_words_not_python_lists(clustered, run):  # noqa: F811
    shown = json.loads(run("show", "0", "--json").stdout)
    video = shown["videos"][0]["id"]
    run("cluster", "move", video, "--to", "noise")
    text = run("cluster", "history").stdout
    assert "[" not in text and "'" not in text
    assert f"to=noise, videos={video}" in text
    assert " move    noise  " in text
