"""The web app: a search page and a JSON API over one index, built by `create_app(settings)`."""

from pixseek.web.app import create_app

__all__ = ["create_app"]
