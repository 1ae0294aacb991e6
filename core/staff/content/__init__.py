"""The console's content and data (BANK-6): the information screen's お知らせ, the deduction
schedules, and the upload of every module's bank data files.

Each screen goes through the service the command uses: a message through the rules of a line of
the お知らせ file (``core.bank.messages``), a file through :func:`core.bank.loaders.load_in`, the
function ``cjs bank load`` ends in, with the loaders the core and the modules declare
(``cjs_loaders``). Every change is audited with the staff ID.
"""

from __future__ import annotations

from pyramid.config import Configurator

from core.hookspecs import StaffPermission


def includeme(config: Configurator) -> None:
    """The content screens, behind ``StaffPermission.CONTENT_MANAGE``, and their menu entries."""
    config.include("core.staff.content.messages")
    config.include("core.staff.content.uploads")
    manage = StaffPermission.CONTENT_MANAGE
    config.add_staff_menu_entry("お知らせ", "staff_messages", manage, order=30)
    config.add_staff_menu_entry("スケジュール", "staff_schedules", manage, order=31)
    config.add_staff_menu_entry("データ取込", "staff_uploads", manage, order=32)
