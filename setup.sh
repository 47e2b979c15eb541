#!/usr/bin/env bash
# Sets up everything fleetui needs on a Debian machine (run as root): the real components the lab and the
# tests run on, from Debian's packages, and a virtualenv in .venv with fleetui and its test tools.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")"

# The one list of Debian packages, shared with the lab's pre-flight check (first word of each line).
mapfile -t DEBS < <(sed -e 's/#.*//' fleetui/lab/debian-packages.txt | awk 'NF {print $1}')
missing=()
for d in "${DEBS[@]}"; do
    dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q "install ok installed" || missing+=("$d")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's packages start their own services where systemd runs; the lab uses other ports, so they may stay.

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
# fleetui is installed editable, so only a change of its dependencies or of this script needs pip again. Skipped
# otherwise: each run of the README's commands runs this script, and on a jump host without a route to the
# package index pip spent a minute in retries on every run (measured offline: 62 s per run; 0.1 s with this check).
stamp=.venv/.fleetui-setup
want="$(cat pyproject.toml setup.sh | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" || ! -x .venv/bin/fleetui ]]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
    echo "$want" > "$stamp"
fi
