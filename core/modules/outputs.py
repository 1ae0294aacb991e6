"""A module's PDF and CSV outputs (``cjs_outputs``), served by one core view with the right headers.

The view builds the output from an :class:`~core.hookspecs.OutputContext` (the module's code never
sees the request; the query string is handed over as ``params``) and answers through the shared
engines: ``application/pdf`` or ``text/csv`` with its charset, and an RFC 6266 attachment name
``<title>_YYYYMMDD.<format>`` (Japan date). Each output has the route ``<code>:output:<name>``, so the
module guard (enablement, ACC-7) applies first.

Long outputs stream (#13 item 6): a PDF built into a file (``core.outputs.pdfstream``) and every CSV
(written row by row into a temporary file) are sent from the file, never held whole in memory. A
CSV character cp932 cannot hold, or an :class:`~core.hookspecs.OutputRefused`, answers with an error
page naming the problem (422), never with a silently changed file.

Language (SPEC 8): the context carries the request's localizer, so a PDF is written in the
language of the screen it is downloaded from, and its file is named in it; a CSV stays Japanese,
its name included (the bank's file layout).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from typing import IO, Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPBadRequest, HTTPForbidden
from pyramid.i18n import get_localizer
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import FileIter, Response

from core import clock
from core.hookspecs import CsvTable, Output, OutputContext, OutputRefused
from core.outputs import csvexport, pdf
from core.security.policy import Permission
from core.security.tenancy import selected_group
from core.settings import ConfigurationError
from core.timefmt import JST

#: The status of an output that cannot be built as asked (the error page says why).
REFUSED_STATUS = 422
#: Bytes kept in memory before a CSV being written spills to a temporary file.
SPOOL_BYTES = 1024 * 1024


def _file_response(file: IO[bytes], content_type: str, disposition: str) -> Response:
    """Stream ``file`` (from its current position to its end) and close it afterwards."""
    start = file.tell()
    file.seek(0, 2)
    length = file.tell() - start
    file.seek(start)
    response = Response(app_iter=FileIter(file), content_length=length)
    response.headers["Content-Type"] = content_type
    response.headers["Content-Disposition"] = disposition
    return response


def output_response(
    output: Output, content: bytes | IO[bytes] | CsvTable, filename: str, encoding: str
) -> Response:
    """The download of ``content`` built for ``output`` (``encoding``: of a CSV only).

    Raises :class:`core.outputs.csvexport.UnencodableCharacter` for a CSV cell cp932 cannot hold.
    """
    disposition = csvexport.content_disposition(filename, "attachment", output.name)
    if output.format == "pdf":
        if isinstance(content, bytes):
            return pdf.pdf_response(content, filename, fallback_stem=output.name)
        if isinstance(content, CsvTable):
            raise TypeError(f"output {output.name!r}: a PDF output builds bytes or a file")
        return _file_response(content, pdf.PDF_CONTENT_TYPE, disposition)
    if not isinstance(content, CsvTable):
        raise TypeError(f"output {output.name!r}: a CSV output builds a CsvTable")
    file = tempfile.SpooledTemporaryFile(SPOOL_BYTES)  # noqa: SIM115 (closed by FileIter)
    try:
        csvexport.write_csv_strict(file, content.header, content.rows, encoding)
    except BaseException:
        file.close()
        close = getattr(content.rows, "close", None)
        if close is not None:  # a generator over a database cursor: let it close the cursor
            close()
        raise
    file.seek(0)
    return _file_response(file, csvexport.content_type(encoding), disposition)


def _refused(request: Request, output: Output, message: Any) -> Response:
    response = render_to_response(
        "error.html", {"title": output.title, "message": message}, request=request
    )
    response.status_int = REFUSED_STATUS
    return response


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
        params: dict[str, Any] = {key: value for key, value in request.GET.items()}
        localizer = get_localizer(request)
        context = OutputContext(
            request.dbsession, group, request.identity.user, now, params, localizer
        )
        title = context.text(output.title) if output.format == "pdf" else str(output.title)
        filename = csvexport.dated_filename(title, now, output.format)
        try:
            return output_response(output, output.build(context), filename, encoding)
        except OutputRefused as refused:
            # the message itself (a core.i18n message): the error page writes it in its language
            return _refused(request, output, refused.args[0] if refused.args else "")
        except csvexport.UnencodableCharacter as unencodable:
            return _refused(request, output, unencodable.message)

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
