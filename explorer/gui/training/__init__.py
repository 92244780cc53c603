"""The Training tab: the form (what to train), the run view (Figure 6, live) and the checks before Start."""
