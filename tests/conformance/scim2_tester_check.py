"""Runs scim2-tester's check_server against a live SCIM endpoint and prints one line per check.

Usage: scim2_tester_check.py BASE_URL TOKEN [CA_FILE]
Exit status 0 when every check passed (or was skipped), 1 otherwise.
"""

import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server
from scim2_tester.utils import Status

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


def main() -> int:
    url, token = sys.argv[1], sys.argv[2]
    verify = sys.argv[3] if len(sys.argv) > 3 else True
    http = httpx2.Client(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        verify=verify,
        timeout=30,
    )
    results = check_server(SyncSCIMClient(http))
    passed = [r for r in results if r.status in PASSED]
    skipped = [r for r in results if r.status == Status.SKIPPED]
    failed = [r for r in results if r.status not in PASSED and r.status != Status.SKIPPED]
    for r in results:
        where = f"[{r.resource_type}] " if r.resource_type else ""
        line = f"{r.status.name:10} {where}{r.title}"
        if r.status not in PASSED and r.reason:
            line += f": {r.reason}"
        print(line)
    print(
        f"scim2-tester: {len(results)} checks, {len(passed)} passed, "
        f"{len(failed)} failed, {len(skipped)} skipped"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
