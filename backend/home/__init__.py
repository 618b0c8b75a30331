"""The signed-in home page: what each role needs first."""
