"""What the data step says when the network or a file fails: a person's words, not the system's internals
(issue 18, item 11: "[errno -2] name or service not known", "cannot identify image file <_io.BufferedReader…>")."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from explorer.data.errors import reason


def test_a_name_that_cannot_be_looked_up_is_no_internet_connection():
    with pytest.raises(urllib.error.URLError) as caught:  # .invalid never resolves, online or not
        urllib.request.urlopen("http://no-such-host.invalid/cifar-10-python.tar.gz", timeout=10)
    assert reason(caught.value) == "no internet connection (the server's name could not be looked up)"


def test_a_refused_connection_is_a_server_not_reached():
    with pytest.raises(urllib.error.URLError) as caught:  # nothing listens on port 9 of this machine
        urllib.request.urlopen("http://127.0.0.1:9/", timeout=10)
    assert reason(caught.value) == "the server could not be reached (no internet connection, or it is down)"
    assert reason(OSError(2, "No such file or directory")) == "no such file or directory"
