"""Demo data: Wuhan's districts and a sample of its real streets, with generated grids and enterprises."""
