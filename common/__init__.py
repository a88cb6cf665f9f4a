"""Plumbing shared by every architecture folder: checkpoints, gradient penalty, data sources, run control.

Only what must behave identically everywhere lives here; each paper's model, losses and training step stay in
its own folder so the folders can be read side by side.
"""
