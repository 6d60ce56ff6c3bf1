from vindex.serve.app import create_app
from vindex.serve.library import Library
from tests.test_serve import csrf, local_client


def test_a_dropped_file_that_is_not_a_video_is_named_as_dropped_not_by_its_temporary_copy(indexed_copy):
    client = local_client(create_app(Library(str(indexed_copy))))
    answer = client.post("/api/similar", params={"name": "notes.txt"}, content=b"just some text\n",
                         headers=csrf(client))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert "vindex-upload-" not in error
    assert error.startswith("cannot read notes.txt as a video")
