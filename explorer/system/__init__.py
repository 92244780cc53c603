"""The lowest layer, standard library only: the operating system and the terminal as the app meets them - files
nobody vouches for (``files``), how children are started (``launch``), what differs between Linux, macOS and
Windows (``host``), progress lines (``progress``) and numbers in a person's words (``formatting``)."""
