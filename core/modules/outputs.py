"""A module's PDF and CSV outputs (``cjs_outputs``), served by one core view with the right headers.

The view builds the output from an :class:`~core.hookspecs.OutputContext` (the module's code never
sees the request) and answers through the shared engines: ``application/pdf`` or ``text/csv`` with
its charset, and an RFC 6266 attachment name ``<title>_YYYYMMDD.<format>`` (Japan date). Each output
has the route ``<code>:output:<name>``, so the module guard (enablement, ACC-7) applies first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPBadRequest, HTTPForbidden
from pyramid.request import Request
from pyramid.response import Response

from core import clock
from core.hookspecs import CsvTable, Output, OutputContext
from core.outputs import csvexport, pdf
from core.security.policy import Permission
from core.security.tenancy import selected_group
from core.settings import ConfigurationError
from core.timefmt import JST


def output_response(
    output: Output, content: bytes | CsvTable, filename: str, encoding: str
) -> Response:
    """The download of ``content`` built for ``output`` (``encoding``: of a CSV only)."""
    if output.format == "pdf":
        if not isinstance(content, bytes):
            raise TypeError(f"output {output.name!r}: a PDF output builds bytes")
        return pdf.pdf_response(content, filename, fallback_stem=output.name)
    if not isinstance(content, CsvTable):
        raise TypeError(f"output {output.name!r}: a CSV output builds a CsvTable")
    return csvexport.csv_response(
        filename, content.header, content.rows, encoding=encoding, fallback_stem=output.name
    )


def output_view(output: Output) -> Callable[[Request], Response]:
    """The view of ``output`` for the selected deposit group (the module guard has run before)."""

    def serve(request: Request) -> Response:
        try:
            encoding = csvexport.normalise_encoding(request.GET.get("encoding"))
        except csvexport.UnknownEncodingError:
            raise HTTPBadRequest("encoding: cp932 or utf-8") from None
        group = selected_group(request)
        if group is None:  # the module guard sends a session without a group to DC590101 first
            raise HTTPForbidden()
        now = clock.now(request.registry).astimezone(JST)
        context = OutputContext(request.dbsession, group, request.identity.user, now)
        filename = csvexport.dated_filename(output.title, now, output.format)
        return output_response(output, output.build(context), filename, encoding)

    return serve


def add_output_routes(config: Configurator, code: str, outputs: Sequence[Output]) -> None:
    """Add ``<code>:output:<name>`` at ``output/<name>`` (under the module's prefix) for each."""
    for output in outputs:
        if output.format not in ("pdf", "csv"):
            raise ConfigurationError(f"output {output.name!r}: format must be pdf or csv")
        route = f"{code}:output:{output.name}"
        config.add_route(route, f"/output/{output.name}")
        config.add_view(
            output_view(output), route_name=route, permission=Permission.USE, request_method="GET"
        )
