"""What a plan shows: unified diffs of the files an enrollment would change, secrets masked."""

from __future__ import annotations

import difflib
import re

from fleetui.deploy.render import POSTGRES_DSN_ENV

_SECRET_LINE = re.compile(rf"^({POSTGRES_DSN_ENV})=.*$", re.MULTILINE)


def mask_env(text: str | None) -> str | None:
    """An env file with secret values replaced, for diffs and plans."""
    return None if text is None else _SECRET_LINE.sub(r'\1="********"', text)


def unified(old: str | None, new: str | None, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            fromfile=f"{name} (current)" if old is not None else "/dev/null",
            tofile=f"{name} (new)" if new is not None else "/dev/null",
        )
    )
