"""The application factory: everything is built from a Settings object, nothing at import time."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig

from backend import assets, pwa
from backend.admin.duty_pages import ROUTES as DUTY_ROUTES
from backend.admin.pages import AdminPages
from backend.admin.policies_pages import ROUTES as POLICY_ROUTES
from backend.auth.middleware import SessionAuthMiddleware
from backend.auth.pages import AuthPages
from backend.codes.pages import ROUTES as CODE_ROUTES
from backend.compression import compression_config
from backend.dashboard.pages import ROUTES as DASHBOARD_ROUTES
from backend.db import make_engine, make_loop_engine, make_session_factory, pool_options
from backend.deps import provide_db, provide_origin, provide_principal
from backend.edge import GuardedRequest, refuse_impossible_input
from backend.enterprises.controllers import EnterpriseApi, MeApi
from backend.enterprises.import_pages import ImportPages
from backend.enterprises.pages import EnterprisePages
from backend.errors import handle_exception
from backend.escalation.pages import EscalationPages
from backend.hazards.pages import HazardPages, OutboxPage
from backend.health import HealthRoutes
from backend.home.pages import HomePages
from backend.i18n import LOCALES
from backend.incidents import mutations as _incident_mutations  # noqa: F401  (registers them)
from backend.incidents.pages import ROUTES as INCIDENT_ROUTES
from backend.inspections.pages import InspectionPages
from backend.navigation import home_actions, navigation
from backend.offline.controllers import SyncApi
from backend.offline.photos import PhotoApi
from backend.overload import AdmissionLimit
from backend.plans.pages import ROUTES as PLAN_ROUTES
from backend.public_reports.pages import ROUTES as PUBLIC_REPORT_ROUTES
from backend.push.controllers import PushApi
from backend.push.pages import NotificationPages
from backend.risk.pages import RiskImportPages, RiskPages
from backend.riskviews.pages import ROUTES as RISK_VIEW_ROUTES
from backend.security_headers import SecurityHeaders
from backend.settings import Settings
from backend.tasks import mutations as _loop_mutations  # noqa: F401  (registers task.accept …)
from backend.tasks.pages import ROUTES as LOOP_ROUTES
from backend.units.names import UnitNames
from backend.warnings import mutations as _warning_mutations  # noqa: F401  (warning.ack)
from backend.warnings.pages import ROUTES as WARNING_ROUTES
from backend.web import install_language_helpers, install_time_filters, locale_of, translator_of

PWA_DIR = Path(__file__).resolve().parent.parent / "pwa"
STATIC_DIR = PWA_DIR / "static"
# Minified copies of STATIC_DIR, made by `make setup` (esbuild); not in git.
BUILD_DIR = PWA_DIR / "build" / "static"
UNAUTHENTICATED_PATHS = [
    "/static/",
    "/sw.js",
    "/manifest.webmanifest",
    "/icons/",
    "/schema",
    "/healthz",
    "/readyz",
]


def _jinja_environment(reload: bool) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(PWA_DIR / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates change with a deploy, which restarts the process; checking each template's
        # file time on every render was ~4% of a page. Development asks for it (template_reload).
        auto_reload=reload,
    )

    @pass_context
    def translate(context: Any, key: str, **params: object) -> str:
        return translator_of(context["request"])(key, **params)

    @pass_context
    def current_locale(context: Any) -> str:
        return locale_of(context["request"])

    @pass_context
    def current_user(context: Any) -> Any:
        return context["request"].scope.get("user")

    environment.globals.update(_=translate, locale=current_locale, me=current_user, locales=LOCALES)
    environment.globals.update(navigation=navigation, home_actions=home_actions)
    return environment


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    if not settings.broker_url:
        # The embedded broker's file is in the data folder (Settings.resolved_broker_url), and
        # SQLite creates a file but not its folder: with the database elsewhere nothing else
        # makes it, and every nudge to the workers failed with "unable to open database file".
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url, **pool_options(settings))
    environment = _jinja_environment(settings.template_reload)
    static_assets = assets.load_assets(STATIC_DIR, BUILD_DIR)
    environment.globals.update(asset=static_assets.url, asset_version=static_assets.version)
    install_time_filters(environment, settings.zone)
    secret = settings.resolved_secret_key

    loop_engine = make_loop_engine(settings.resolved_database_url)

    def dispose_engine() -> None:
        engine.dispose()
        if loop_engine is not None:
            loop_engine.dispose()

    async def after_request(response: Response[Any]) -> Response[Any]:
        # Pages and API answers are checked on every use; what may be kept (hashed static files,
        # icons, photos) says so itself.
        response.headers.setdefault("Cache-Control", "private, no-cache")
        return response

    session_factory = make_session_factory(engine, settings)
    unit_names = UnitNames(session_factory)
    install_language_helpers(environment, unit_names)

    app = Litestar(
        route_handlers=[
            AuthPages,
            HomePages,
            EnterprisePages,
            RiskPages,
            RiskImportPages,
            HazardPages,
            OutboxPage,
            InspectionPages,
            AdminPages,
            ImportPages,
            EnterpriseApi,
            MeApi,
            SyncApi,
            PhotoApi,
            PushApi,
            NotificationPages,
            *CODE_ROUTES,
            *PUBLIC_REPORT_ROUTES,
            *LOOP_ROUTES,
            *INCIDENT_ROUTES,
            *PLAN_ROUTES,
            *DASHBOARD_ROUTES,
            *DUTY_ROUTES,
            *POLICY_ROUTES,
            *WARNING_ROUTES,
            *RISK_VIEW_ROUTES,
            EscalationPages,
            pwa.PwaRoutes,
            HealthRoutes,
            assets.static_file,
        ],
        dependencies={
            "db": Provide(provide_db),
            "principal": Provide(provide_principal, sync_to_thread=False),
            "origin": Provide(provide_origin, sync_to_thread=False),
        },
        middleware=[
            AdmissionLimit(settings.max_concurrent_requests, settings.queue_wait_seconds),
            DefineMiddleware(SessionAuthMiddleware, exclude=UNAUTHENTICATED_PATHS),
        ],
        csrf_config=CSRFConfig(
            secret=secret,
            cookie_name="gs_csrf",
            header_name="x-csrftoken",
            cookie_secure=settings.secure_cookies,
            cookie_samesite="lax",
        ),
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment)),
        plugins=[HTMXPlugin()],
        exception_handlers={Exception: handle_exception},
        before_request=refuse_impossible_input,
        after_request=after_request,
        request_class=GuardedRequest,
        compression_config=compression_config(),
        openapi_config=OpenAPIConfig(title="GridSafe API", version="1", path="/schema"),
        state=State(
            {
                "settings": settings,
                "session_factory": session_factory,
                "loop_engine": loop_engine,
                "jinja_env": environment,
                "assets": static_assets,
                "unit_names": unit_names,
            }
        ),
        on_shutdown=[dispose_engine],
        request_max_body_size=20 * 1024 * 1024,
        logging_config=None,
        debug=False,
    )
    # Outside the router and its exception handler, so no answer goes without them.
    app.asgi_handler = SecurityHeaders(app.asgi_handler)
    return app


def create_app_from_env() -> Litestar:
    """Entry point for `uvicorn --factory backend.app:create_app_from_env`."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return create_app(Settings())


__all__ = ["Request", "create_app", "create_app_from_env"]
