"""Rule-pack versions as the CLI, the web pages and the API use them: register a folder, promote a version,
and find the pack that screens a region (materialised from the casebook into a folder the engine loads).

The tables and data functions are in `drgaudit.casebook.packs`; this module adds what needs the engine
and the file system: reading a pack folder's files, checking a version loads, and the region setting
`pack_promotion_approvers` (how many distinct people must promote a version: 2 = a second person).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session

from drgaudit.casebook import packs
from drgaudit.casebook.packs import NATIONAL, PackError, PromotionOutcome, Registration, RulePackVersion
from drgaudit.engine.loader import bundled_rules_dir, load_pack
from drgaudit.engine.pack import RulePack
from drgaudit.i18n import _
from drgaudit.settings import home_dir

APPROVERS_SETTING = "pack_promotion_approvers"


def pack_files(pack: RulePack) -> dict[str, str]:
    """The text of every file the pack's version hash covers (pack.yaml, rule files, lists, regions)."""
    files: dict[str, str] = {}
    for relative in sorted(pack.file_hashes):
        path = pack.directory / relative
        try:
            files[relative] = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PackError(
                _("{path}: not UTF-8 text ({reason} at byte {byte})").format(
                    path=path, reason=exc.reason, byte=exc.start
                )
            ) from exc
    return files


def register_pack(
    *, session: Session, directory: Path | str | None, actor: str, note: str | None = None
) -> Registration:
    """Check a pack folder (a broken pack is refused whole) and register it as a version."""
    pack = load_pack(directory)
    return packs.register_version(
        session=session,
        version=pack.version,
        name=pack.name,
        files=pack_files(pack),
        source=str(Path(pack.directory).resolve()),
        registered_by=actor,
        note=note,
    )


def packs_home() -> Path:
    """Where registered versions are written out as folders for the engine: $DRGAUDIT_HOME/packs/."""
    return home_dir() / "packs"


def materialize(version: RulePackVersion, *, root: Path | None = None) -> Path:
    """The folder holding a stored version's files, written on first use and checked on every use.

    The folder is named after the content hash; if its files no longer hash to it (edited, half written),
    it is written again from the casebook.
    """
    base = root or packs_home()
    folder = base / version.version
    if folder.is_dir():
        try:
            if load_pack(folder).version == version.version:
                return folder
        except Exception:  # noqa: BLE001  (a damaged copy is simply written again)
            pass
    base.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{version.version}-", dir=base))
    try:
        for relative, text in version.files.items():
            target = (scratch / relative).resolve()
            if scratch.resolve() not in target.parents:
                raise PackError(
                    _("pack version {version}: file name {name!r} leaves its folder").format(
                        version=version.version, name=relative
                    )
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8"))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(scratch, folder)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    loaded = load_pack(folder)
    if loaded.version != version.version:
        raise PackError(
            _("pack version {version} does not reproduce from the casebook (got {got})").format(
                version=version.version, got=loaded.version
            )
        )
    return folder


def approvals_needed(pack: RulePack, region: str) -> int:
    """How many distinct people must promote a version for a region, by the pack's region settings."""
    config = pack.region(None if region == NATIONAL else region)
    value = config.settings.get(APPROVERS_SETTING, 1)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PackError(
            _("{path}: {setting} must be a whole number ≥ 1, got {value!r}").format(
                path=config.path, setting=APPROVERS_SETTING, value=value
            )
        )
    return value


@dataclass
class PromoteRequest:
    """A promotion as a person asks for it."""

    version: str | None  # a version ref (id or hash prefix); None with stage shadow stops shadowing
    region: str
    effective_from: dt.date
    stage: str = "active"
    note: str | None = None


def promote_pack(*, session: Session, request: PromoteRequest, actor: str) -> PromotionOutcome:
    """Promote a version for a region; a second person is needed when the region's settings say so, in
    the version being promoted or in the one in force now (whichever asks more)."""
    region = packs.check_region(request.region)
    version = packs.get_version(session=session, ref=request.version) if request.version is not None else None
    needed = 1
    current = packs.active_version(session=session, region=region, on_date=request.effective_from)
    for candidate in (version, current):
        if candidate is not None:
            needed = max(needed, approvals_needed(load_pack(materialize(candidate)), region))
    if version is None and current is None:
        needed = max(needed, approvals_needed(load_pack(bundled_rules_dir()), region))
    return packs.promote(
        session=session,
        version=version,
        region=region,
        stage=request.stage,
        effective_from=request.effective_from,
        actor=actor,
        approvals_needed=needed,
        note=request.note,
    )


def active_rules_dir(*, session: Session, region: str, on_date: dt.date | None = None) -> Path | None:
    """The folder of the version active for a region on a day (default today), None when none is promoted."""
    version = packs.active_version(session=session, region=region, on_date=on_date)
    return materialize(version) if version is not None else None


def shadow_rules_dir(*, session: Session, region: str, on_date: dt.date | None = None) -> Path | None:
    """The folder of the version screened in shadow for a region on a day, None when there is none."""
    version = packs.shadow_version(session=session, region=region, on_date=on_date)
    return materialize(version) if version is not None else None


@dataclass
class PackPlan:
    """Which rule pack screens each treatment region: `routes` (region -> rules folder) and `default` for
    the other regions (None: their claims are not screened, as in a shadow screen)."""

    default: Path | None
    routes: dict[str, Path] = field(default_factory=dict)
    _loaded: dict[str, RulePack] = field(default_factory=dict, repr=False)

    def folders(self) -> list[Path]:
        """Every rules folder of the plan, the default first."""
        seen: dict[str, Path] = {}
        for folder in ([self.default] if self.default is not None else []) + list(self.routes.values()):
            seen.setdefault(str(folder), folder)
        return list(seen.values())

    def pack(self, folder: Path) -> RulePack:
        """The loaded pack of one of the plan's folders (loaded once)."""
        key = str(folder)
        if key not in self._loaded:
            self._loaded[key] = load_pack(folder)
        return self._loaded[key]

    def use(self, folder: Path, pack: RulePack) -> None:
        """Use an already loaded pack for a folder."""
        self._loaded[str(folder)] = pack

    def folder_for(self, region: str) -> Path | None:
        """The rules folder that screens a treatment region, None when it is not screened."""
        return self.routes.get(region, self.default)

    def pack_for(self, region: str) -> RulePack | None:
        """The pack that screens a treatment region, None when it is not screened."""
        folder = self.folder_for(region)
        return self.pack(folder) if folder is not None else None

    def region_packs(self) -> dict[str, RulePack]:
        """The pack of each routed region."""
        return {region: self.pack(folder) for region, folder in self.routes.items()}

    @property
    def lookback_days(self) -> int:
        return max(self.pack(folder).lookback_days for folder in self.folders())

    @property
    def version(self) -> str:
        """The pack version, or `region=version` pairs (`*` the default) when regions differ."""
        if not self.routes and self.default is not None:
            return self.pack(self.default).version
        parts = [f"*={self.pack(self.default).version}"] if self.default is not None else []
        parts += [f"{region}={self.pack(folder).version}" for region, folder in sorted(self.routes.items())]
        return ",".join(parts)

    def describe(self) -> str:
        """The folders of the plan, for the screen run's record."""
        if not self.routes and self.default is not None:
            return str(self.default)
        parts = [f"*={self.default}"] if self.default is not None else []
        parts += [f"{region}={folder}" for region, folder in sorted(self.routes.items())]
        return ",".join(parts)


def screening_plan(
    *, session: Session, regions: list[str], rules_dir: Path | str | None, on_date: dt.date | None = None
) -> PackPlan:
    """The packs that screen these treatment regions: `rules_dir` for all when given; else each region's
    active version (its own, else the national one), else the bundled pack."""
    if rules_dir is not None:
        return PackPlan(Path(rules_dir))
    bundled = bundled_rules_dir()
    if not packs.promoted_regions(session=session):
        return PackPlan(bundled)
    default = active_rules_dir(session=session, region=NATIONAL, on_date=on_date) or bundled
    routes: dict[str, Path] = {}
    for region in regions:
        folder = active_rules_dir(session=session, region=region, on_date=on_date)
        if folder is not None and folder != default:
            routes[region] = folder
    return PackPlan(default, routes)


def shadow_plan(*, session: Session, regions: list[str], on_date: dt.date | None = None) -> PackPlan | None:
    """The shadow versions of these regions (only their claims are screened), None when there is none."""
    if not packs.promoted_regions(session=session):
        return None
    routes: dict[str, Path] = {}
    for region in regions:
        folder = shadow_rules_dir(session=session, region=region, on_date=on_date)
        if folder is not None:
            routes[region] = folder
    return PackPlan(None, routes) if routes else None
