"""Views over the risk profiles: the inspector's due list, the risk map (一张图) and the reports."""
