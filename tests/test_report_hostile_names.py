from tests.test_hostile_names import RAW, hostile_folder  # noqa: F401  (fixture)


def test_report_gallery_shows_hostile_names_visibly(hostile_folder, run, tmp_path):  # noqa: F811
    run("cluster", "--min-size", "2", "--neighbors", "2", "--no-report", "-q")
    run("report", "--out", tmp_path / "report", "--no-picture", "--thumbnails", "8", "-q")
    page = (tmp_path / "report" / "clusters.html").read_text()
    assert not any(raw in page for raw in RAW)
    assert "bidi\\u202eavi.mp4" in page
