"""Sign-in, sessions, the signed-in principal and the scope policy every query goes through."""
