"""The last line of defence at the edge, for every route at once: a body that is no JSON this
server can read, an id no column can hold, a query string with a character no database keeps.

Forms and APIs still check their own fields (backend/validation.py) and name them; this only
makes sure that what slips past them is a 400 or a 404, never a database error and a 500."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ClientException, NotFoundException, ValidationException

from backend.validation import MAX_ID, text_problem


class GuardedRequest(Request[Any, Any, Any]):
    """Litestar turns a malformed JSON body into a 400, but not invalid UTF-8 inside a string or
    nesting deeper than the decoder's recursion limit: those escape as UnicodeDecodeError and
    RecursionError."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except (UnicodeDecodeError, RecursionError) as error:
            raise ClientException("the body is not JSON this server can read") from error


async def refuse_impossible_input(request: Request[Any, Any, Any]) -> None:
    """Every `{…:int}` path parameter is a database id: beyond an INTEGER column it names
    nothing (404) and binding it would overflow. A `{…:str}` one (a hazard's UUID, a token) with
    a NUL names nothing either, and PostgreSQL would refuse to look it up. A query parameter is
    text the handler may send to the database (400 naming the parameter)."""
    for value in request.path_params.values():
        if isinstance(value, int) and not -MAX_ID <= value <= MAX_ID:
            raise NotFoundException()
        if isinstance(value, str) and text_problem(value):
            raise NotFoundException()
    for name, value in request.query_params.multi_items():
        if text_problem(name) or text_problem(value):
            raise ValidationException(extra=[{"key": name, "code": "control_chars"}])
