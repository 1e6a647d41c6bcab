"""Plans rendered by Jinja templates (Markdown, HTML, text, JSON) and diagrams.

Arrives with the forward-documentation issue; nothing here yet.
"""
