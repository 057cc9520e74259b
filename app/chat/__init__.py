"""The browser chat (Gradio). Importing `assay.app.chat` imports gradio; see layout.py for the cut."""

from .layout import build_app, launch, launch_kwargs

__all__ = ["build_app", "launch", "launch_kwargs"]
