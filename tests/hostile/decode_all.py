"""Subprocess entry for the hostile-image checks: decode, preprocess and embed every file of a folder with
the real loader (tiny CLIP fixture), under a memory limit, printing one JSON line per file.

    python -m tests.hostile.decode_all FOLDER [--memory-mb 1024]

RLIMIT_DATA (private memory, which holds every pixel buffer) is set to what the process already uses plus
--memory-mb, so a file that needs more fails with MemoryError inside the decoder, as on a small machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from pixseek.errors import ImageReadError, ImageTooLargeError
from pixseek.models.registry import load_embedder
from pixseek.settings import Settings

TINY_CLIP = Path(__file__).parents[1] / "fixtures" / "tiny-clip"


def _data_now() -> int:
    """Private memory in use now (VmData), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmData:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--memory-mb", type=int, default=1024)
    args = parser.parse_args()
    embedder = load_embedder(str(TINY_CLIP), settings=Settings())
    loader = embedder.image_loader()
    limit = _data_now() + args.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    for path in sorted(args.folder.iterdir()):
        start = time.perf_counter()
        try:
            vector = embedder.embed_pixels(loader(path).pixels[None])[0]
            outcome = "ok" if vector.shape == (embedder.dim,) else f"bad vector {vector.shape}"
        except ImageTooLargeError:
            outcome = "too_large"
        except ImageReadError:
            outcome = "unreadable"
        except BaseException as exc:  # anything else is the failure this harness exists to find
            outcome = f"crash: {type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"name": path.name, "outcome": outcome, "seconds": round(seconds, 3),
                          "peak_rss_mb": round(peak_mb)}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
