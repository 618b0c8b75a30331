"""The backend side of offline sync: storage for the `sync` engine, the change log, endpoints, photos."""
