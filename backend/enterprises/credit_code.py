"""The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters, the last a check character."""

from __future__ import annotations

# 31 characters: digits and capitals without I, O, S, V, Z (too easily misread).
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {char: index for index, char in enumerate(ALPHABET)}
# Weight of position i is 3**i mod 31.
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18


def check_character(first17: str) -> str:
    """The 18th character for the first 17."""
    total = sum(_VALUE[char] * weight for char, weight in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalise(code: str) -> str:
    return code.strip().upper()


def problem(code: str) -> str | None:
    """None for a valid code, otherwise the message key that says what is wrong."""
    if len(code) != LENGTH:
        return "credit_code.length"
    if any(char not in _VALUE for char in code):
        return "credit_code.characters"
    if not code[2:8].isdigit():
        return "credit_code.division"
    if check_character(code[:17]) != code[17]:
        return "credit_code.check"
    return None


def is_valid(code: str) -> bool:
    return problem(code) is None
