"""A test module plugin for 事業主 contracts with a part of the information screen (#13, SPEC 6.4):
the slot where 財形's 作成基準日 goes, with a template of its own (``templates/panel_module/``)."""

from __future__ import annotations

from typing import Any

from core.hookspecs import InfoPanel, ServiceModule, hookimpl

PANEL_TEXT = "作成基準日（テスト）"


class EmployerPanelModule:
    """Code ``panel_module``, for 事業主 contracts; its panel says :data:`PANEL_TEXT` and the group."""

    module = ServiceModule(
        code="panel_module",
        name="パネル",
        menu_title="パネル事務",
        contract_kinds=("employer",),
        restriction_levels=("show", "hide"),
    )

    @hookimpl
    def cjs_service_module(self) -> ServiceModule:
        return self.module

    @hookimpl
    def cjs_info_panels(self, request: Any, deposit_group: Any, module: ServiceModule) -> list:
        return [
            InfoPanel(
                template="panel_module/panel.html",
                context={"text": PANEL_TEXT, "group": deposit_group.group_no},
            )
        ]
