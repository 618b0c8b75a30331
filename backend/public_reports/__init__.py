"""Problems reported from an enterprise's public card by anyone, without an account (群众举报)."""
