"""HTML reports of LLC results, global estimates and validation runs (``slt report``).

One self-contained file per result: inline CSS, figures embedded as base64 PNG, nothing
fetched from elsewhere, so the page can be mailed or archived as it is.
"""

from slt.report.html import render_html, render_validation_html, write_report
from slt.report.load import load_input

__all__ = ["load_input", "render_html", "render_validation_html", "write_report"]
