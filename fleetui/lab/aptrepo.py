"""The lab's apt repository: package `alloy` (the stand-in), signed with a lab GPG key, served on loopback.

Laid out like apt.grafana.com so the enrollment engine runs Grafana's documented Debian steps unchanged:
key at `http://127.0.0.1:19080/gpg-full.key`, source `deb [signed-by=/etc/apt/keyrings/grafana.asc]
http://127.0.0.1:19080 stable main`. Built with dpkg-deb, dpkg-scanpackages and apt-ftparchive; signed with
gpg (InRelease + Release.gpg); served by `python -m http.server`. Rebuilt only when missing.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from fleetui.lab import topology
from fleetui.lab.standin_install import MARK, POSTINST, files_for

KEY_UID = "fleetui lab repository (NOT Grafana) <lab@fleetui.invalid>"


def _gpg(home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--yes", "--quiet", *args], check=True, capture_output=True
    )


def _key(repo: Path, www: Path) -> Path:
    home = repo / "gnupg"
    if not (home / "pubring.kbx").exists():
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        _gpg(home, "--passphrase", "", "--quick-gen-key", KEY_UID, "ed25519", "sign", "never")
    pub = _gpg(home, "--armor", "--export", KEY_UID).stdout
    (www / "gpg-full.key").write_bytes(pub)
    (www / "gpg.key").write_bytes(pub)
    return home


def _build_deb(pool: Path, version: str) -> Path:
    deb = pool / f"alloy_{version}-1_amd64.deb"
    if deb.exists():
        return deb
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for path, (content, mode) in files_for(version, "debian").items():
            f = root / path.lstrip("/")
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(content)
            f.chmod(mode)
        ctl = root / "DEBIAN"
        ctl.mkdir()
        (ctl / "control").write_text(
            f"Package: alloy\nVersion: {version}-1\nArchitecture: amd64\n"
            "Maintainer: fleetui lab <lab@fleetui.invalid>\n"
            "Section: default\nPriority: optional\nHomepage: https://grafana.com/docs/alloy\n"
            "Description: fleetui lab stand-in for Grafana Alloy (NOT Grafana Alloy)\n"
            " A small Python program that behaves like Grafana Alloy where fleetui can see, for fleetui's lab.\n"
        )
        (ctl / "conffiles").write_text("/etc/default/alloy\n/etc/alloy/config.alloy\n")
        (ctl / "postinst").write_text(POSTINST)
        (ctl / "postinst").chmod(0o755)
        (ctl / "prerm").write_text(f'#!/bin/sh\n{MARK}set -e\n[ "$1" = remove ] && systemctl stop alloy || true\n')
        (ctl / "prerm").chmod(0o755)
        pool.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)],
            check=True,
            capture_output=True,
        )
    return deb


def _index(www: Path, home: Path) -> None:
    dist = www / "dists" / "stable"
    binary = dist / "main" / "binary-amd64"
    binary.mkdir(parents=True, exist_ok=True)
    packages = subprocess.run(
        ["dpkg-scanpackages", "--multiversion", "pool"], cwd=www, check=True, capture_output=True
    ).stdout
    (binary / "Packages").write_bytes(packages)
    (binary / "Packages.gz").write_bytes(gzip.compress(packages, mtime=0))
    release = subprocess.run(
        [
            "apt-ftparchive",
            "-o",
            "APT::FTPArchive::Release::Origin=fleetui-lab",
            "-o",
            "APT::FTPArchive::Release::Label=fleetui lab (stand-in for apt.grafana.com)",
            "-o",
            "APT::FTPArchive::Release::Suite=stable",
            "-o",
            "APT::FTPArchive::Release::Codename=stable",
            "-o",
            "APT::FTPArchive::Release::Architectures=amd64",
            "-o",
            "APT::FTPArchive::Release::Components=main",
            "release",
            str(dist),
        ],
        check=True,
        capture_output=True,
    ).stdout
    (dist / "Release").write_bytes(release)
    _gpg(home, "--local-user", KEY_UID, "--clearsign", "-o", str(dist / "InRelease"), str(dist / "Release"))
    _gpg(home, "--local-user", KEY_UID, "-abs", "-o", str(dist / "Release.gpg"), str(dist / "Release"))


def build(repo: Path) -> Path:
    """Make sure the signed repository exists under `repo/www`; returns that directory."""
    www = repo / "www"
    www.mkdir(parents=True, exist_ok=True)
    home = repo / "gnupg"
    try:
        _build(repo, www)
    finally:
        # gpg leaves an agent daemon behind for the home dir; the lab must leave no process after `lab down`
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, check=False)
    return www


def _build(repo: Path, www: Path) -> None:
    home = _key(repo, www)
    # The package's /usr/bin/alloy wrapper names this interpreter: a checkout elsewhere (a CI clone with its
    # own .venv) must get a package of its own, not one that runs another checkout's code.
    stamp = repo / "built-for"
    if stamp.exists() and stamp.read_text() != sys.executable:
        shutil.rmtree(www / "pool", ignore_errors=True)
        shutil.rmtree(www / "dists", ignore_errors=True)
    if not (www / "dists" / "stable" / "InRelease").exists():
        _build_deb(www / "pool" / "main" / "a" / "alloy", topology.REPO_ALLOY_VERSION)
        _index(www, home)
        stamp.write_text(sys.executable)


def serve(www: Path, log: Path) -> int:
    """Start the static file server for the repository; returns its pid."""
    host, port = topology.REPO_ADDR.split(":")
    with log.open("ab") as out:
        p = subprocess.Popen(
            [sys.executable, "-m", "http.server", port, "--bind", host, "--directory", str(www)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return p.pid
