"""Two workstations sharing one store, each with the same two environments, back up, sync,
delete, recover, pin, restore (with a backup first or not, refused at another version),
restore one environment's backup into the other, export a backup and import it on the
other workstation, apply retention, empty Deleted, collect garbage and verify, in a random
order: once each has synced twice, they hold the same backups with the same pins, every
backup restores on either as its tree was when it was taken, and both stores are whole.

Seeded, so a failure names the seed that makes it again; rsync, comparing contents, is the
judge. A backup from the other workstation, or from an imported file, restores as
untrusted (no owners, special bits or security attributes), so there only its names,
links and contents are compared.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from envops_desktop.domain.enums import BackupOrigin
from envops_desktop.domain.errors import (
    InvalidConfigurationFileError,
    InvalidInputError,
    VersionMismatchError,
)
from envops_desktop.domain.models import Backup
from envops_desktop.domain.retention import RetentionRule
from envops_desktop.service import EnvOpsService
from tests.reliability.test_random_edits import (
    devices_excluded,
    edit_at_random,
    small_tree_of_every_kind,
)
from tests.trees import needs_rsync, rsync_differences, snapshot

pytestmark = [pytest.mark.reliability, needs_rsync]

PASSPHRASE = "one team, one passphrase"
ENVIRONMENTS = ("mail", "web")
STEPS_PER_RUN = 30


def _differences(snap: Path, folder: Path, trusted: bool) -> list[str]:
    devices = devices_excluded(snap, folder)
    if trusted:
        return rsync_differences(snap, folder, "--delete", "-c", *devices)
    # Names, kinds, links and contents only: -aHAX without modes, owners, times, ACLs or
    # xattrs.
    untrusted = ["--no-p", "--no-o", "--no-g", "--no-t", "--no-A", "--no-X"]
    return rsync_differences(snap, folder, "--delete", "-c", *untrusted, *devices)


@dataclass
class Team:
    """The two workstations, their environments' folders, what each backup held when it was
    taken, and the story so far (for a failure's message)."""

    root: Path
    rng: random.Random
    stations: dict[str, EnvOpsService] = field(default_factory=dict)
    trees: dict[tuple[str, str], Path] = field(default_factory=dict)
    snaps: dict[str, Path] = field(default_factory=dict)
    imported: set[str] = field(default_factory=set)  # restored as untrusted everywhere
    story: list[str] = field(default_factory=list)
    step: int = 0

    def snapshot(self, folder: Path) -> Path:
        self.step += 1
        return snapshot(folder, self.root / f"snap{self.step}")

    def trusted(self, backup: Backup) -> bool:
        """Made on this workstation from a folder of its own: restored with owners, modes
        and attributes; a teammate's or an imported file's restores as untrusted."""
        return backup.made_on is None and backup.id not in self.imported

    def live(self, name: str, env: str) -> list[str]:
        return [b.id for b in self.stations[name].list_backups(env)]

    def taken_since(self, name: str, env: str, before: list[str]) -> list[Backup]:
        service = self.stations[name]
        return [b for b in service.list_backups(env) if b.id not in before]

    def restore(self, name: str, env: str, chosen: Backup, source: str | None) -> None:
        """Restore `chosen` into `env` on `name` (a backup of `source`, another environment):
        refused, changing nothing, at another version; else the folder is the backup's tree,
        and a backup taken first holds what was there."""
        service, tree = self.stations[name], self.trees[name, env]
        before, live = self.snapshot(tree), self.live(name, env)
        if chosen.version != service.get_environment(env).version:
            with pytest.raises(VersionMismatchError):
                service.restore_backup(env, chosen.id, True, from_environment=source)
            assert _differences(before, tree, True) == [], self.story
            return
        first = self.rng.random() < 0.5
        service.restore_backup(env, chosen.id, first, from_environment=source)
        assert _differences(self.snaps[chosen.id], tree, self.trusted(chosen)) == [], self.story
        for taken in self.taken_since(name, env, live):
            self.snaps[taken.id] = before

    def import_elsewhere(self, name: str, env: str, chosen: Backup) -> None:
        """Export `chosen` here and import the file into the same environment on the other
        workstation, with a backup first: refused at another version, changing nothing."""
        other = "b" if name == "a" else "a"
        service, tree = self.stations[other], self.trees[other, env]
        exported = self.stations[name].export_backup(chosen.id, self.root / f"{chosen.id}.zip")
        before, live = self.snapshot(tree), self.live(other, env)
        try:
            staged = service.stage_configuration_file(exported)
        except InvalidConfigurationFileError as refused:  # a random edit linked out
            assert "points outside the environment" in str(refused), self.story
            assert _differences(before, tree, True) == [], self.story
            staged = service.stage_configuration_file(exported, allow_external_links=True)
        try:
            service.import_configuration(env, staged, backup_first=True)
        except VersionMismatchError:
            assert chosen.version != service.get_environment(env).version, self.story
            assert _differences(before, tree, True) == [], self.story
            return
        finally:
            service.discard_staged_configuration(staged)
        assert _differences(self.snaps[chosen.id], tree, False) == [], self.story
        for taken in self.taken_since(other, env, live):
            if taken.origin is BackupOrigin.IMPORTED:
                self.snaps[taken.id] = self.snaps[chosen.id]
                self.imported.add(taken.id)
            else:
                self.snaps[taken.id] = before


def _edit(team: Team, name: str, env: str) -> None:
    team.story.append(edit_at_random(team.trees[name, env], team.rng, team.rng.randint(1, 3)))


def _backup(team: Team, name: str, env: str) -> None:
    backup = team.stations[name].create_backup(env)
    team.snaps[backup.id] = team.snapshot(team.trees[name, env])


def _sync(team: Team, name: str, _env: str) -> None:
    team.stations[name].sync_shared_store(PASSPHRASE)


def _delete(team: Team, name: str, env: str) -> None:
    if live := team.live(name, env):
        team.stations[name].delete_backup(team.rng.choice(live))


def _recover(team: Team, name: str, env: str) -> None:
    if deleted := [b.id for b in team.stations[name].deleted_backups(env)]:
        try:
            team.stations[name].recover_backup(team.rng.choice(deleted))
        except InvalidInputError as refused:  # the team was told: it stands
            assert "deleted for the whole team" in str(refused), team.story


def _pin(team: Team, name: str, env: str) -> None:
    if live := team.live(name, env):
        chosen = team.stations[name].get_backup(team.rng.choice(live))
        team.stations[name].pin_backup(chosen.id, not chosen.pinned)


def _restore(team: Team, name: str, env: str) -> None:
    if live := team.live(name, env):
        team.restore(name, env, team.stations[name].get_backup(team.rng.choice(live)), None)


def _restore_into_the_other(team: Team, name: str, env: str) -> None:
    if live := team.live(name, env):
        chosen = team.stations[name].get_backup(team.rng.choice(live))
        other = next(e for e in ENVIRONMENTS if e != env)
        team.restore(name, other, chosen, env)


def _version(team: Team, name: str, env: str) -> None:
    team.stations[name].update_environment_version(env, team.rng.choice(["1.0", "2.0"]))


def _export_import(team: Team, name: str, env: str) -> None:
    if live := team.live(name, env):
        team.import_elsewhere(name, env, team.stations[name].get_backup(team.rng.choice(live)))


def _retention(team: Team, name: str, env: str) -> None:
    rule = RetentionRule(before_restore_last=team.rng.randint(1, 2), manual_days=None)
    team.stations[name].set_and_apply_retention(env, rule)


def _empty_bin(team: Team, name: str, _env: str) -> None:
    team.stations[name].empty_bin()


def _gc(team: Team, name: str, _env: str) -> None:
    team.stations[name].collect_garbage()


def _verify(team: Team, name: str, _env: str) -> None:
    assert team.stations[name].check_store().healthy, team.story


_STEPS: list[Callable[[Team, str, str], None]] = [
    *(_edit, _edit, _backup, _backup, _backup, _sync, _sync, _delete, _recover, _pin),
    *(_restore, _restore, _restore_into_the_other, _restore_into_the_other, _version),
    *(_export_import, _retention, _empty_bin, _gc, _verify),
]


@pytest.mark.parametrize("seed", range(4))
def test_two_workstations_in_a_random_order_agree_on_every_backup(
    bucket, s3_endpoint, tmp_path, seed
):
    team = Team(tmp_path, random.Random(seed))
    for name in "ab":
        service = team.stations[name] = EnvOpsService(tmp_path / name)
        service.use_shared_store(f"s3://{bucket}/team", PASSPHRASE, endpoint=s3_endpoint)
        service.unlock_shared_store(PASSPHRASE)  # restores of the other's backups fetch
        for env in ENVIRONMENTS:
            tree = team.trees[name, env] = small_tree_of_every_kind(tmp_path / f"on-{name}" / env)
            service.add_environment(env, tree, version="1.0")
    story = team.story
    try:
        for _ in range(STEPS_PER_RUN):
            name, env = team.rng.choice("ab"), team.rng.choice(ENVIRONMENTS)
            step = team.rng.choice(_STEPS)
            story.append(f"{name}:{env}:{step.__name__.lstrip('_')}")
            step(team, name, env)
        for name in "abab":
            team.stations[name].sync_shared_store(PASSPHRASE)

        for env in ENVIRONMENTS:
            held = {
                name: {b.id: b.pinned for b in service.list_backups(env)}
                for name, service in team.stations.items()
            }
            shared = set(held["a"]) & set(held["b"])
            # A backup made here and deleted before any sync never reached the store; every
            # other one is on both, pinned alike.
            for name, service in team.stations.items():
                for backup_id in set(held[name]) - shared:
                    assert service.get_backup(backup_id).made_on is None, story
            assert {i: held["a"][i] for i in shared} == {i: held["b"][i] for i in shared}, story
            for name, service in team.stations.items():
                for backup_id in held[name]:
                    out = tmp_path / f"out-{name}-{backup_id}"
                    service.restore_to_folder(backup_id, out)
                    trusted = team.trusted(service.get_backup(backup_id))
                    assert _differences(team.snaps[backup_id], out, trusted) == [], (story, name)
        for name, service in team.stations.items():
            assert service.check_store().healthy, (story, name)
    finally:
        for service in team.stations.values():
            service.close()
