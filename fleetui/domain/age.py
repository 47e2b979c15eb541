"""Ages as operators read them: "42s ago", "4m 05s ago", "3h 22m ago", "2d 3h ago".

Two units at most, the larger first (seed 004 Part 1's "last seen 3h 22m ago"): precise where it matters
(seconds for a fresh push host) and short where it does not (days for a host gone since last week).
"""

from __future__ import annotations

# a sample up to this far in the future (clocks of pushing hosts drift) still reads as "just now"
_SKEW_TOLERANCE = 5.0


def format_duration(seconds: float) -> str:
    """A non-negative duration in at most two units: 42s, 4m 05s, 3h 22m, 2d 3h."""
    s = int(max(seconds, 0.0))
    days, rem = divmod(s, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_age(then: float | None, now: float) -> str:
    """How long ago `then` (unix seconds) was at `now`; "never" for None, "in the future" for clock skew."""
    if then is None:
        return "never"
    delta = now - then
    if delta < -_SKEW_TOLERANCE:
        return f"{format_duration(-delta)} in the future"
    if delta < 1:
        return "just now"
    return f"{format_duration(delta)} ago"
