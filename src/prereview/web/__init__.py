"""Web pages (Jinja2 and htmx) over the same services and policy as the API."""

from prereview.web.routes import install

__all__ = ["install"]
