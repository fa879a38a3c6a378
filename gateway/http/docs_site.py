"""The docs pages with nothing loaded from the internet: Redoc at `/schema` (and `/schema/redoc`),
Swagger UI at `/schema/swagger`, the document at `/schema/openapi.json` and `/schema/openapi.yaml`.

Their scripts and styles are vendored in `gateway/http/static/` (versions and licenses in its
README) and served by the app under `/schema/static`, like the docs themselves without a key. Only
the renderers vendored here are offered: Litestar's others (RapiDoc, Stoplight Elements) would load
theirs from a CDN.
"""

from __future__ import annotations

from pathlib import Path

from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.router import Router
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).parent / "static"
DOCS = "/schema"
ASSETS = f"{DOCS}/static"
# No icon to fetch (Litestar's default is an image on a CDN).
_NO_ICON = "<link rel='icon' href='data:,'>"


class _Redoc(RedocRenderPlugin):
    """Redoc, and the router of the docs pages serving the vendored assets too."""

    def receive_router(self, router: Router) -> None:
        super().receive_router(router)
        router.register(docs_assets(ASSETS.removeprefix(DOCS)))


def openapi_config(title: str, version: str) -> OpenAPIConfig:
    """The document's config, its pages rendered with the vendored assets."""
    return OpenAPIConfig(
        title=title,
        version=version,
        path=DOCS,
        render_plugins=[
            _Redoc(
                js_url=f"{ASSETS}/redoc/redoc.standalone.js",
                google_fonts=False,
                path=["/", "/redoc"],
                favicon=_NO_ICON,
            ),
            SwaggerRenderPlugin(
                js_url=f"{ASSETS}/swagger-ui/swagger-ui-bundle.js",
                css_url=f"{ASSETS}/swagger-ui/swagger-ui.css",
                standalone_preset_js_url=f"{ASSETS}/swagger-ui/swagger-ui-standalone-preset.js",
                favicon=_NO_ICON,
            ),
            JsonRenderPlugin(),
            YamlRenderPlugin(),
        ],
    )


def docs_assets(path: str = ASSETS) -> Router:
    """The vendored files, as static files (no key, outside the document)."""
    return create_static_files_router(
        path=path,
        directories=[STATIC_DIR],
        name="docs_assets",
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86400, public=True),
    )
