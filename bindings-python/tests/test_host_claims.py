"""Shared machines: another user's live claim on a port, as a real claim file
owned by that user in a real sticky directory, is seen by ``who``,
``conflicts`` and ``host_claims`` and passed over by a lease. Needs root (to
create a file owned by another uid): skipped otherwise."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from typing import Iterator

import pytest

import portreg

NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to write a claim owned by another uid")


def start_ticks(pid: int) -> int:
    stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[19])


@pytest.fixture
def other_user_claim(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A port (24990) claimed by uid 65534 for a live process; the claims
    directory set for registries opened from now on."""
    claims = tmp_path / "claims"
    claims.mkdir(mode=0o1777)
    os.chmod(claims, 0o1777)
    monkeypatch.setenv("PORTREG_CLAIMS_DIR", str(claims))
    holder = subprocess.Popen(["sleep", "600"])
    port = 24990
    boot = pathlib.Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    body = {"port": port, "uid": NOBODY, "pid": holder.pid, "start_ticks": start_ticks(holder.pid), "boot_id": boot}
    path = claims / f"{port}.{NOBODY}"
    path.write_text(json.dumps(body))
    os.chmod(path, 0o644)
    os.chown(path, NOBODY, NOBODY)
    try:
        yield port
    finally:
        holder.kill()
        holder.wait()


def test_who_and_host_claims_show_the_other_users_claim(tmp_path: pathlib.Path, other_user_claim: int) -> None:
    reg = portreg.Registry(tmp_path / "reg")
    claims = [c for c in reg.host_claims() if c.port == other_user_claim]
    assert len(claims) == 1
    claim = claims[0]
    assert (claim.uid, claim.alive, claim.mine, claim.honoured) == (NOBODY, True, False, True)
    assert claim.to_dict()["uid"] == NOBODY
    assert hash(claim) == hash(claims[0])
    who = reg.who(other_user_claim)
    assert [c.uid for c in who.host_claims] == [NOBODY]
    assert who.to_dict()["host_claims"] == [claim.to_dict()]
    assert "HostClaim(port=24990" in repr(claim)


def test_a_lease_passes_over_it_and_conflicts_name_it(tmp_path: pathlib.Path, other_user_claim: int) -> None:
    reg = portreg.Registry(tmp_path / "reg")
    port = other_user_claim
    with pytest.raises(portreg.NoFreePortError):
        reg.lease("web", range=(port, port))
    with pytest.raises(portreg.PortTakenError):
        reg.lease("web", port=port, exact=True)
    # A name pinned to that port: its next lease cannot have it.
    reg.reserve("db", port)
    conflicts = reg.conflicts()
    assert [c.entry.name for c in conflicts] == ["db"]
    assert [c.uid for c in conflicts[0].claimed_by] == [NOBODY]
    assert conflicts[0].listeners == []
