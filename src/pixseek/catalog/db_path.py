"""Where a catalog lives: whether one is there, and refusing a --db that could never hold one."""

from __future__ import annotations

from pathlib import Path

from pixseek.catalog.lock import LOCK_NAME
from pixseek.catalog.schema import IMAGES_TABLE, META_STAGING, META_TABLE
from pixseek.catalog.storage import remote_table_committed
from pixseek.errors import CatalogError
from pixseek.locations import Location, is_object_store


def catalog_exists(path: Location) -> bool:
    """A complete catalog is there: its metadata table, written last, is in place."""
    if is_object_store(path):
        return remote_table_committed(str(path), META_TABLE)
    return (Path(path) / f"{META_TABLE}.lance").is_dir()


def check_db_path(path: Location) -> None:
    """Refuse a DB location that can never hold a catalog, before anything is written."""
    if isinstance(path, str):
        return  # an object-store prefix: any prefix can hold one
    if path.exists() and not path.is_dir():
        raise CatalogError(f"--db {path} is a file, not a pixseek index folder; choose another path")


def check_new_db_path(path: Location) -> None:
    """Refuse to create a catalog inside a folder that already holds something else (e.g. photos)."""
    check_db_path(path)
    if isinstance(path, Path) and path.is_dir() and not catalog_exists(path):
        ours = {LOCK_NAME, f"{IMAGES_TABLE}.lance", f"{META_STAGING}.lance"}  # a crash during creation
        foreign = sorted(p.name for p in path.iterdir() if p.name not in ours)
        if foreign:
            raise CatalogError(
                f"--db {path} is a folder with other files in it ({', '.join(foreign[:3])}...), not a "
                "pixseek index; choose a new or empty folder"
            )
