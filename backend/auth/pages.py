"""Sign-in, sign-out and the language switch."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Redirect
from sqlmodel import Session

from backend.audit import Origin
from backend.auth import services
from backend.auth.middleware import SESSION_COOKIE
from backend.errors import AppError
from backend.i18n import LOCALE_COOKIE, LOCALES
from backend.web import after_change, page


def safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a signed-in user to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


class AuthPages(Controller):
    include_in_schema = False

    @get("/signin", sync_to_thread=False)
    def signin_form(
        self,
        request: Request[Any, Any, Any],
        next_: Annotated[str, QueryParameter(name="next")] = "/",
    ) -> Response[Any]:
        if request.scope.get("user") is not None:
            return Redirect(safe_next(next_), status_code=303)
        return page(request, "signin.html", {"next": safe_next(next_), "username": ""})

    @post("/signin", sync_to_thread=True)
    def signin(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        origin: NamedDependency[Origin],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        settings = request.app.state.settings
        username = data.get("username", "")
        next_ = safe_next(data.get("next"))
        try:
            token = services.sign_in(
                db,
                settings,
                username,
                data.get("password", ""),
                origin,
                chosen_locale=request.cookies.get(LOCALE_COOKIE),
            )
        except AppError as error:
            context = {"next": next_, "username": username, "error": error}
            return page(request, "signin.html", context, block="form", status_code=error.status)
        response = after_change(request, next_)
        response.set_cookie(
            Cookie(
                key=SESSION_COOKIE,
                value=token,
                max_age=settings.session_hours * 3600,
                httponly=True,
                secure=settings.secure_cookies,
                samesite="lax",
                path="/",
            )
        )
        return response

    @post("/signout", sync_to_thread=True)
    def signout(
        self, request: Request[Any, Any, Any], db: NamedDependency[Session]
    ) -> Response[Any]:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            services.sign_out(db, token)
        response = after_change(request, "/signin")
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.headers["Clear-Site-Data"] = '"cache"'
        return response

    @post("/language", sync_to_thread=True)
    def language(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        """Signed in, the account keeps the choice (pushes and messages follow it); the cookie
        serves the sign-in page and anyone not signed in."""
        lang = data.get("lang", "")
        response = after_change(request, safe_next(data.get("next")))
        if lang in LOCALES:
            user = request.scope.get("user")
            if user is not None:
                services.set_locale(db, user.id, lang)
            response.set_cookie(
                Cookie(key=LOCALE_COOKIE, value=lang, max_age=365 * 86400, samesite="lax", path="/")
            )
        return response
