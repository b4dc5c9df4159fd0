"""Visualisation: masks, overlays, heatmaps and reports."""
