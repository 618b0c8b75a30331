"""GridSafe: the field layer of a city's smart-emergency platform (Litestar application)."""
