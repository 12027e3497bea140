"""Test-only entry point: one `Index.add(..., ray_actors=N)` against a running Ray cluster, in its own process
(a fresh driver, as a user's, with no Ray state left by other tests), printing the report as JSON.

    python -m tests.indexing.ray_driver ADDRESS SOURCE DB --actors N [--hold FILE --held FILE --hold-after K]
        [--nodes M]   # alive nodes to wait for first (2)

With --hold, each actor's model call K + 1 blocks while FILE exists (after creating --held), so a test can
SIGKILL the driver with rows already appended by the workers (model batches and commits of 4 rows then,
16 files per actor call).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import ray

from pixseek.services import Index
from tests.fakes import FakeEmbedder
from tests.indexing.slow_index import SlowFakeEmbedder
from tests.subprocess_env import checkout_env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("source")
    parser.add_argument("db")
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--hold", type=Path, default=None)
    parser.add_argument("--held", type=Path, default=None)
    parser.add_argument("--hold-after", type=int, default=2)
    parser.add_argument("--nodes", type=int, default=2)
    args = parser.parse_args()
    embedder = (
        SlowFakeEmbedder(0.0, args.hold, hold_after=args.hold_after, held=args.held)
        if args.hold
        else FakeEmbedder()
    )
    ray.init(address=args.address, runtime_env={"env_vars": {"PYTHONPATH": checkout_env()["PYTHONPATH"]}})
    try:
        deadline = time.monotonic() + 120
        while len([n for n in ray.nodes() if n["Alive"]]) < args.nodes:
            if time.monotonic() > deadline:
                raise SystemExit("the worker node never joined")
            time.sleep(1)
        report = Index(args.db, embedder=embedder).add(
            args.source, ray_actors=args.actors, batch_size=4, commit_rows=4
        )
    finally:
        ray.shutdown()
    print(json.dumps(report.to_dict()))


if __name__ == "__main__":
    main()
