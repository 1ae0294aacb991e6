"""Paper requests with four-eyes approval (#14 item 2; seed 003, BANK-2..5, BANK-8): the framework
(:mod:`.base`), the kinds (:mod:`.kinds`), the screens (:mod:`.views`) and ご契約番号照会
(:mod:`.lookup`)."""

from __future__ import annotations

from pyramid.config import Configurator

from core.hookspecs import StaffPermission


def includeme(config: Configurator) -> None:
    """The request screens, their menu entries, and the CRL publication after a revocation's
    commit (BANK-5: the staff app revokes, so it publishes)."""
    config.include("core.pki.crl")
    config.add_route("staff_requests", "/staff/requests/")
    config.add_route("staff_contract_lookup", "/staff/requests/lookup")
    config.add_route("staff_contract_notice", "/staff/requests/lookup/{contract_no}/notice")
    config.add_route("staff_request_new", "/staff/requests/new")
    config.add_route("staff_request_file", "/staff/requests/new/{kind}/{contract_no}")
    config.add_route("staff_request", r"/staff/requests/{id:\d{1,9}}")
    config.add_route("staff_request_approve", r"/staff/requests/{id:\d{1,9}}/approve")
    config.add_route("staff_request_reject", r"/staff/requests/{id:\d{1,9}}/reject")
    config.add_route("staff_request_withdraw", r"/staff/requests/{id:\d{1,9}}/withdraw")
    config.add_staff_menu_entry(
        "依頼書の受付", "staff_request_new", StaffPermission.REQUEST_FILE, order=20
    )
    config.add_staff_menu_entry("依頼一覧・検印", "staff_requests", StaffPermission.USE, order=21)
    config.add_staff_menu_entry(
        "ご契約番号照会", "staff_contract_lookup", StaffPermission.REQUEST_FILE, order=22
    )
    # The views and the kinds are picked up by core.staff's scan.
