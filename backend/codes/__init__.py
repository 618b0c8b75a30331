"""Enterprise and key-point codes (一企一码, 一点一码): scanning, check-in, printing, rotation."""
