"""What a restore says when the disk refuses to write its new tree."""

import errno

from envops_desktop.service.materialize import _explain


def test_a_full_disk_met_by_a_write_with_no_file_name_names_the_folder_being_written_in(
    tmp_path,
):
    # A write through a descriptor (as the helpers write) carries no file name.
    full = OSError(errno.ENOSPC, "No space left on device")
    said = _explain(full, str(tmp_path / ".billing.envops-staging-1"))
    assert said == f"The disk that holds {tmp_path} is full."


def test_a_refused_write_with_no_file_name_names_the_tree_not_none(tmp_path):
    refused = OSError(errno.EACCES, "Permission denied")
    said = _explain(refused, str(tmp_path / "copy"))
    assert said == f"Permission denied writing {tmp_path / 'copy'}."
