"""The Architecture tab: the options of one network and its layer table."""
