"""Signed enterprise and point codes and their QR rendering (filled in by the QR-code issue)."""
