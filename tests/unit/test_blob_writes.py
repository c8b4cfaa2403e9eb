"""Writing blobs while other processes share the store."""

import os

from tests.store_view import open_store


def test_large_file_is_stored_after_another_process_swept_the_scratch_folder(tmp_path):
    # The app stays open for days; an `envops` command started meanwhile sweeps the store's
    # scratch folder while nothing is writing. The app's next large file must still go in.
    data = tmp_path / "data"
    data.mkdir()
    app, command_line = open_store(data), open_store(data)
    first, second = tmp_path / "disk-v1.img", tmp_path / "disk-v2.img"
    first.write_bytes(os.urandom(5 << 20))  # large: written through the scratch folder
    second.write_bytes(os.urandom(5 << 20))
    with app.packing() as pack:
        app.ingest(str(first), pack)
    command_line.clear_temporary()
    with app.packing() as pack:
        sha, size, _, _ = app.ingest(str(second), pack)
    assert size == 5 << 20
    with app.open(sha) as stored:
        assert stored.read() == second.read_bytes()
