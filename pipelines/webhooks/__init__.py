"""Pushed webhooks: `webhooks serve` receives them; `webhooks register` points Instantly at it."""

from .register import register
from .serve import ServeOptions, serve

__all__ = ["ServeOptions", "register", "serve"]
