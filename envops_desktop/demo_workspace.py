"""`--demo`: a populated workspace so that a newcomer sees every feature at once."""

import os
import sys
from pathlib import Path

from envops_desktop.domain.models import RestoreCommand
from envops_desktop.service import EnvOpsService


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def create_demo_workspace(service: EnvOpsService) -> bool:
    """Create the demo environments and backups once; False if the workspace has some already."""
    if service.list_environments():
        return False
    # Beside the data folder, not in it: nothing inside EnvOps's own data may be restored over.
    base = service.data_dir.with_name(f"{service.data_dir.name} demo environments")
    billing = base / "billing-production"
    _write(
        billing,
        {
            "VERSION": "4.2.0\n",
            "app.yaml": "server:\n  port: 8443\n  workers: 8\nfeatures:\n  invoices_v2: true\n",
            "conf.d/database.ini": "[primary]\nhost = db1.internal\npool = 20\n",
            "conf.d/cache.ini": "[redis]\nhost = cache.internal\nttl = 300\n",
            "certs/README": "Certificates are rotated by the PKI team.\n",
            "plugins/audit/plugin.toml": "name = 'audit'\nenabled = true\n",
        },
    )
    os.symlink("conf.d/database.ini", billing / "database.ini")
    web = base / "web-frontend"
    _write(
        web,
        {
            "nginx/nginx.conf": "worker_processes auto;\nevents { worker_connections 1024; }\n",
            "nginx/sites/shop.conf": "server { listen 443 ssl; server_name shop.example; }\n",
            "env/production.env": "API_URL=https://api.example\nFEATURE_DARK_MODE=0\n",
        },
    )
    os.symlink("sites/shop.conf", web / "nginx" / "default.conf")
    analytics = base / "analytics-staging"
    _write(
        analytics,
        {
            "pipeline.yaml": "jobs:\n  - name: nightly\n    schedule: '0 2 * * *'\n",
            "connections/warehouse.json": '{"host": "wh.internal", "port": 5439}\n',
        },
    )
    (analytics / "tmp").mkdir()

    # A harmless check that works from source and from the frozen bundle alike.
    check = RestoreCommand(argv=[sys.executable, "--version"])
    service.add_environment(
        "billing-production", billing, version_file="VERSION", post_restore_command=check
    )
    service.add_environment("web-frontend", web, version="2.2.0")
    service.add_environment("analytics-staging", analytics, version="1.9.3")

    service.create_backup("billing-production", name="Before invoices v2")
    (billing / "app.yaml").write_text(
        "server:\n  port: 8443\n  workers: 12\nfeatures:\n  invoices_v2: true\n"
    )
    service.create_backup("billing-production", name="Nightly")
    service.create_backup("web-frontend", name="Release 2.2.0")
    service.update_environment_version("web-frontend", "2.3.0")
    (web / "env" / "production.env").write_text(
        "API_URL=https://api.example\nFEATURE_DARK_MODE=1\n"
    )
    service.create_backup("web-frontend", name="Release 2.3.0")
    service.create_backup("analytics-staging", name="Initial")
    from envops_desktop.domain.schedules import Frequency, ScheduleRule  # pydantic: here

    service.set_schedule("billing-production", ScheduleRule(frequency=Frequency.DAILY, at="02:00"))
    service.pin_backup(service.find_backup("billing-production", "Before invoices v2").id)
    service.delete_backup(service.create_backup("analytics-staging", name="Trial run").id)
    return True
