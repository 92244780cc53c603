"""Widgets and helpers shared by the tabs: actions, tooltips, number fields, export dialogs, workers off the GUI
thread, child jobs, run followers and the lines of one network."""
