"""The dummy service module of the tests: a module plugin given to ``make_app(…, plugins=[…])``
without installing anything.

``DummyModule`` (code ``dummy``, ダミー事務, for 会員 contracts, every ACC-7 level) has an inquiry
screen ``/m/dummy/list`` (ダミー照会画面), an export ``/m/dummy/export`` and a changing screen
``/m/dummy/new`` (GET ダミー新規登録画面 declares ``changes_data``; POST answers 登録しました), with the
menu entries ダミー照会 and ダミー新規登録. Subclass it for a variant (another code, a panel).
"""

from __future__ import annotations

from typing import Any

from pyramid.response import Response

from core.hookspecs import MenuEntry, ServiceModule, hookimpl

LIST_TEXT = "ダミー照会画面"
NEW_TEXT = "ダミー新規登録画面"
SAVED_TEXT = "登録しました"


def _answer(text: str) -> Any:
    return lambda request: Response(text)


class DummyModule:
    """A module with an inquiry, an export and a changing screen."""

    module = ServiceModule(
        code="dummy",
        name="ダミー",
        menu_title="ダミー事務",
        contract_kinds=("member",),
        restriction_levels=("show", "hide", "view_only"),
    )

    @hookimpl
    def cjs_service_module(self) -> ServiceModule:
        return self.module

    @hookimpl
    def cjs_module_routes(self, config: Any, module: ServiceModule) -> None:
        config.add_route("dummy:list", "/list")
        config.add_view(_answer(LIST_TEXT), route_name="dummy:list", request_method="GET")
        config.add_route("dummy:export", "/export")
        config.add_view(_answer("export"), route_name="dummy:export", request_method="GET")
        config.add_route("dummy:new", "/new")
        config.add_view(
            _answer(NEW_TEXT), route_name="dummy:new", request_method="GET", changes_data=True
        )
        config.add_view(_answer(SAVED_TEXT), route_name="dummy:new", request_method="POST")

    @hookimpl
    def cjs_menu_entries(self, request: Any, deposit_group: Any, module: ServiceModule) -> list:
        return [
            MenuEntry("ダミー照会", "dummy:list"),
            MenuEntry("ダミー新規登録", "dummy:new"),  # changes_data: from its GET view
        ]
