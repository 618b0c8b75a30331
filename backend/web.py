"""Request helpers shared by every controller: language, htmx fragments and redirects, client details."""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import partial
from typing import Any

from jinja2 import Environment, pass_context
from jinja2_fragments import render_block
from litestar import Request, Response
from litestar.response import Redirect, Template

from backend.i18n import LOCALE_COOKIE, Translator, negotiate
from backend.timezone import DISPLAY, format_local, to_local_input
from backend.units.names import UnitNames


def is_api(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/api/")


def wants_fragment(request: Request[Any, Any, Any]) -> bool:
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def locale_of(request: Request[Any, Any, Any]) -> str:
    """Resolved once per request and kept in scope state."""
    state = request.scope.setdefault("state", {})
    if "locale" not in state:
        user = request.scope.get("user")
        state["locale"] = negotiate(
            request.cookies.get(LOCALE_COOKIE),
            getattr(user, "locale", None),
            request.headers.get("accept-language"),
            request.app.state.settings.default_locale,
        )
    locale: str = state["locale"]
    return locale


def translator_of(request: Request[Any, Any, Any]) -> Translator:
    # Kept for the request: a page calls this once per translated string.
    state = request.scope.setdefault("state", {})
    translator = state.get("translator")
    if translator is None:
        translator = state["translator"] = Translator(locale_of(request))
    assert isinstance(translator, Translator)
    return translator


def zone_of(request: Request[Any, Any, Any]) -> tzinfo:
    """Where the people of this deployment read their clocks (GRIDSAFE_TIMEZONE)."""
    where: tzinfo = request.app.state.settings.zone
    return where


def install_time_filters(environment: Environment, where: tzinfo) -> None:
    """`{{ moment|local }}`, `{{ moment|local('%m-%d %H:%M') }}` show a UTC moment as local
    wall-clock time; `{{ moment|local_input }}` is the value of a datetime-local field."""

    def local(moment: datetime | None, pattern: str = DISPLAY) -> str:
        return format_local(moment, where, pattern)

    environment.filters["local"] = local
    environment.filters["local_input"] = partial(to_local_input, where=where)


def install_language_helpers(environment: Environment, unit_names: UnitNames) -> None:
    """`{{ _n('hazards.count', total) }}` words a count for the reader ("1 hazard", "2 hazards");
    `{{ row.grid_name|unit_name }}` (or `{{ unit|unit_name }}`) names a unit in their language."""

    @pass_context
    def plural(context: Any, key: str, n: int, **params: object) -> str:
        return translator_of(context["request"]).plural(key, n, **params)

    @pass_context
    def unit_name(context: Any, value: Any) -> str:
        return unit_names.label(value, locale_of(context["request"]))

    environment.globals["_n"] = plural
    environment.filters["unit_name"] = unit_name


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else ""


def device_of(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("user-agent", "")[:200]


def page(
    request: Request[Any, Any, Any],
    template: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
) -> Response[Any]:
    """One URL, page or fragment: htmx asking gets only `block`, everyone else the whole page."""
    context = context or {}
    headers = {"Vary": "HX-Request"}
    response = Template(
        template_name=template, context=context, status_code=status_code, headers=headers
    )
    if block and wants_fragment(request):
        environment: Environment = request.app.state.jinja_env
        # The Template response's own context (request, csrf_input), so a block renders the
        # same on its own as inside the page: a re-rendered form keeps its hidden CSRF field.
        html = render_block(environment, template, block, response.create_template_context(request))
        return Response(html, media_type="text/html", status_code=status_code, headers=headers)
    return response


def after_change(request: Request[Any, Any, Any], url: str) -> Response[Any]:
    """Where to go once a form has changed something: 303 for a plain form. htmx would follow a
    303 inside its request and swap the next page into the form, so it is told to navigate."""
    headers = {"Vary": "HX-Request"}
    if wants_fragment(request):
        # 200, not the 201 Litestar gives a POST by default; htmx only reads the header.
        headers["HX-Redirect"] = url
        return Response(b"", status_code=200, media_type="text/plain", headers=headers)
    return Redirect(url, status_code=303, headers=headers)
