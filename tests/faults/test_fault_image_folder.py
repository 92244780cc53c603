"""A folder of one's own images stays cheap to read whatever it holds, and the decoded-image cache beside it is
read as warily as a data folder: a strip of 1×400,000 pixels is not stretched to gigabytes before its centre is
cut, and a FIFO or a link planted where a cache entry belongs is passed over, not waited on or followed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.data import decoded_cache
from explorer.data.folder_layout import list_folder
from tests.faults.harness import cli, env, one_line
from tests.folder_fixture import write_image_folder

DECODE_IN_LITTLE_MEMORY = """
import resource, sys
from pathlib import Path
from explorer.data.image_folder import decode
status = open("/proc/self/status").read()
used = int(status.split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (used + (256 << 20), resource.RLIM_INFINITY))
image = decode(Path(sys.argv[1]), 32)
print(image.shape, sorted({tuple(int(v) for v in image[:, y, x]) for y in range(32) for x in range(32)}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads its address space from /proc")
def test_a_strip_of_one_by_400000_pixels_is_decoded_in_little_memory(tmp_path):
    """A 1×400,000 PNG of a few hundred bytes was resized whole to 12.8 million × 32 before the crop (2.5 GB,
    7 s); its centre is decoded now in 256 MB more than the decoder's process already uses."""
    pixels = np.zeros((1, 400_000, 3), dtype=np.uint8)
    pixels[0, :, 0] = 255  # red, but for the middle: blue, which is all the centre square sees
    pixels[0, 199_500:200_500] = (0, 0, 255)
    strip = tmp_path / "strip.png"
    Image.fromarray(pixels).save(strip, optimize=True)
    assert strip.stat().st_size < 2000
    done = subprocess.run([sys.executable, "-c", DECODE_IN_LITTLE_MEMORY, str(strip)], capture_output=True,
                          text=True, env=env(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(3, 32, 32) [(0, 0, 255)]"


@pytest.mark.parametrize("planted", ["fifo", "link"])
def test_a_fifo_or_link_planted_as_the_decoded_cache_entry_is_passed_over(tmp_path, planted):
    images = write_image_folder(tmp_path / "images", per_class=4)
    listing = list_folder(images)
    cache = tmp_path / "cache"
    cache.mkdir()
    entry = cache / decoded_cache.entry_name(listing.train + listing.test, 32)
    elsewhere = tmp_path / "elsewhere.npy"
    if planted == "fifo":
        os.mkfifo(entry)  # a reader that opened it would wait for a writer forever
    else:
        np.save(elsewhere, np.full((12, 3, 32, 32), 7, dtype=np.uint8))  # someone else's pixels, the right shape
        entry.symlink_to(elsewhere)
    done = cli(tmp_path, "data", "--dataset", "folder", "--data-dir", str(images), timeout=60,
               env=env(tmp_path, RESNET_EXPLORER_CACHE=str(cache)))
    assert done.returncode == 0, one_line(done.stderr)
    assert "folder: 9 training and 3 test images ready" in done.stdout
    assert entry.is_file() and not entry.is_symlink()  # decoded and kept in a file of the cache's own
    assert np.load(entry).shape == (12, 3, 32, 32) and not (np.load(entry) == 7).all()
    if planted == "link":
        assert (np.load(elsewhere) == 7).all()
