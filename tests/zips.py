"""Building configuration files by hand, valid or deliberately hostile."""

import hashlib
import json
import stat
import zipfile
from pathlib import Path


def file_entry(path: str, data: bytes, mode: int = 0o644) -> dict:
    return {
        "path": path,
        "kind": "file",
        "mode": mode,
        "size": len(data),
        "mtime_ns": 10**18,
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def dir_entry(path: str) -> dict:
    return {"path": path, "kind": "dir", "mode": 0o755, "mtime_ns": 10**18}


def link_entry(path: str, target: str) -> dict:
    return {"path": path, "kind": "symlink", "mode": 0o777, "mtime_ns": 10**18, "target": target}


def manifest(entries: list[dict], version: str = "4.2.0", **overrides: object) -> dict:
    document = {
        "format": "envops-configuration",
        "format_version": 1,
        "environment_name": "billing",
        "backup_name": "hand-made",
        "version": version,
        "created_at": "2026-11-01T10:00:00Z",
        "created_by": "tester",
        "entries": entries,
    }
    document.update(overrides)
    return document


def write_configuration(
    path: Path,
    document: dict | bytes | None,
    files: dict[str, bytes],
    file_type: int = stat.S_IFREG,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """A zip with `manifest.json` (unless None) and `files` under their given names."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (file_type | 0o644) << 16
            info.compress_type = compression
            archive.writestr(info, data)
        if document is not None:
            raw = document if isinstance(document, bytes) else json.dumps(document).encode()
            archive.writestr("manifest.json", raw)
    return path


def simple_configuration(
    path: Path, version: str = "4.2.0", exported_from: str = "billing"
) -> Path:
    """A valid configuration file holding app.yaml and conf.d/db.ini."""
    app, db = b"server:\n  port: 8080\n", b"[db]\nhost=replica\n"
    entries = [file_entry("app.yaml", app), dir_entry("conf.d"), file_entry("conf.d/db.ini", db)]
    return write_configuration(
        path,
        manifest(entries, version, environment_name=exported_from),
        {"config/app.yaml": app, "config/conf.d/db.ini": db},
    )


def configuration_owned_by_another_user(path: Path) -> Path:
    """A configuration file whose one file, tool.sh, belongs to postgres (uid 4242)."""
    tool = b"#!/bin/sh\nexec postgres\n"
    entry = file_entry("tool.sh", tool, mode=0o755)
    entry["meta"] = {"uid": 4242, "gid": 4242, "user": "postgres", "group": "postgres"}
    return write_configuration(path, manifest([entry]), {"config/tool.sh": tool})
