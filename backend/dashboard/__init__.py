"""Each tier's dashboard (看板): what is open, late and escalated in the officer's area."""
