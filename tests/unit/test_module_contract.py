"""The module contract of #11: what a module plugin contributes without an edit to core, and the
checks the core makes of it at start (one line each)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pyramid.response import Response
from sqlalchemy import func, select

from core import cli, mail
from core.app import close_app, make_app
from core.bank import config as bank_config
from core.bank import loaders
from core.cli.jobs import run_daily
from core.db import get_session_factory
from core.db.models import AuditEvent, Contract, DepositGroup
from core.hookspecs import (
    Command,
    CsvTable,
    DailyJob,
    DemoFile,
    MailTemplate,
    MenuEntry,
    Output,
    Parsed,
    RowError,
    ServiceModule,
    hookimpl,
)
from core.modules.outputs import output_response
from core.plugins import ModuleRegistry, get_modules, load_plugins, make_plugin_manager
from core.settings import ConfigurationError, Setting, positive_int, validate
from core.web.oplog import action_label

MAIL_FOLDER = Path(__file__).resolve().parent / "contract_mail"


class GroupNamesLoader:
    """A bank data file renaming deposit groups: ``contract_no,group_no,name_kanji`` per line."""

    kind = "group_names"
    title = "入金グループ名"

    def parse(self, dbsession, data):
        rows, errors = [], []
        for line, text in enumerate(data.decode("cp932").splitlines(), start=1):
            if not text:
                continue
            record = text.split(",")
            if len(record) != 3:
                errors.append(RowError(line, "項目数が3ではありません。"))
                continue
            contract_no, group_no, name = record
            group = dbsession.scalars(
                select(DepositGroup)
                .join(Contract)
                .where(Contract.contract_no == contract_no, DepositGroup.group_no == group_no)
            ).one_or_none()
            if group is None:
                errors.append(
                    RowError(line, f"入金グループ {contract_no}-{group_no} がありません。")
                )
            else:
                rows.append((group, name))
        return Parsed(rows=rows, errors=errors)

    def store(self, dbsession, rows, *, now):
        for group, name in rows:
            group.name_kanji = name


class ContractModule:
    """A module using every hook of the contract; it records what the core told it."""

    module = ServiceModule(
        code="contract", name="契約テスト", menu_title="契約テスト事務", contract_kinds=("member",)
    )

    def __init__(self, *, settings=None, templates=None, labels=None, commands=None):
        self.settings = settings
        self.templates = templates
        self.labels = labels
        self.commands = commands
        self.told: list[tuple[str, str, object]] = []
        self.job_contexts: list[object] = []

    @hookimpl
    def cjs_service_module(self):
        return self.module

    @hookimpl
    def cjs_module_routes(self, config, module):
        config.add_route("contract:list", "/list")
        config.add_view(lambda request: Response("list"), route_name="contract:list")
        config.add_route("contract:new", "/new")
        config.add_view(
            lambda request: Response("new"),
            route_name="contract:new",
            request_method="GET",
            changes_data=True,
        )

    @hookimpl
    def cjs_menu_entries(self, request, deposit_group, module):
        return [MenuEntry("照会", "contract:list"), MenuEntry("登録", "contract:new")]

    @hookimpl
    def cjs_settings(self):
        if self.settings is not None:
            return self.settings
        return [Setting("cjs.module.contract.limit", positive_int, "10", "rows per page")]

    @hookimpl
    def cjs_mail_templates(self):
        if self.templates is not None:
            return self.templates
        return [MailTemplate("contract_notice", frozenset({"user_name"}), MAIL_FOLDER)]

    @hookimpl
    def cjs_action_labels(self):
        return self.labels if self.labels is not None else {"contract.thing.create": "物の登録"}

    @hookimpl
    def cjs_daily_jobs(self):
        def run(context):
            self.job_contexts.append(context)
            return 7

        return [DailyJob("contract_swept", run)]

    @hookimpl
    def cjs_cli_commands(self):
        if self.commands is not None:
            return self.commands

        def add_arguments(parser):
            parser.add_argument("--times", type=int, default=1)

        def run(args, settings):
            print("hello " * args.times + str(settings["cjs.module.contract.limit"]))
            return 3

        return [Command("contract-hello", "say hello", add_arguments, run)]

    @hookimpl
    def cjs_loaders(self):
        return [GroupNamesLoader()]

    @hookimpl
    def cjs_demo_files(self, dbsession, now):
        return [
            DemoFile(
                "group_names", "demo_names.csv", "10000001,00000002,デモ支部\n".encode("cp932")
            )
        ]

    @hookimpl
    def cjs_outputs(self, module):
        return [
            Output("table", "一覧表", "csv", lambda context: CsvTable(["名前"], [["=x"]])),
        ]

    @hookimpl
    def cjs_module_enabled(self, dbsession, deposit_group, module, options):
        self.told.append(("enabled", deposit_group.group_no, dict(options)))

    @hookimpl
    def cjs_module_disabled(self, dbsession, deposit_group, module):
        self.told.append(("disabled", deposit_group.group_no, None))

    @hookimpl
    def cjs_staff_routes(self, config, module):
        config.add_route("contract:staff", "/")
        config.add_view(lambda request: Response("staff"), route_name="contract:staff")


def _settings(**extra):
    return {"sqlalchemy.url": "sqlite://", "cjs.environment": "development", **extra}


# --- settings -----------------------------------------------------------------------------------


def test_a_module_setting_is_parsed_like_the_cores():
    loaded = load_plugins(_settings(**{"cjs.module.contract.limit": "25"}), [ContractModule()])
    assert loaded.settings["cjs.module.contract.limit"] == 25
    default = load_plugins(_settings(), [ContractModule()])
    assert default.settings["cjs.module.contract.limit"] == 10


def test_a_bad_module_setting_stops_the_start_in_one_line():
    with pytest.raises(ConfigurationError) as refused:
        load_plugins(_settings(**{"cjs.module.contract.limit": "0"}), [ContractModule()])
    assert str(refused.value) == (
        "cjs.module.contract.limit: expected a positive whole number, got '0'"
    )


def test_an_undeclared_module_setting_is_refused():
    """A typo must not silently fall back to the default, for a module as for the core."""
    with pytest.raises(ConfigurationError, match=r"^cjs.module.contract.limt: unknown setting$"):
        load_plugins(_settings(**{"cjs.module.contract.limt": "5"}), [ContractModule()])
    with pytest.raises(ConfigurationError, match=r"^cjs.module.nobody.x: unknown setting$"):
        load_plugins(_settings(**{"cjs.module.nobody.x": "5"}), [ContractModule()])


def test_a_module_setting_outside_its_namespace_is_refused():
    plugin = ContractModule(settings=[Setting("cjs.module.other.x", str, "", "not ours")])
    with pytest.raises(ConfigurationError, match=r"'cjs\.module\.other\.x': must begin"):
        load_plugins(_settings(), [plugin])


# --- mail templates -----------------------------------------------------------------------------


def test_a_module_mail_template_renders_beside_the_cores(app_settings):
    app = make_app(app_settings, plugins=[ContractModule()])
    try:
        templates = mail.all_templates(app.registry)
        assert set(mail.TEMPLATES) < set(templates)
        rendered = mail.render(
            "contract_notice",
            {"user_name": "労金　太郎"},
            app.registry.settings,
            templates=templates,
        )
        assert rendered.subject == "【ろうきん賃金控除事務支援サービス】契約テストのお知らせ"
        assert "労金　太郎 様" in rendered.body
        with pytest.raises(ValueError, match="unknown mail template 'contract_notice'"):
            mail.render("contract_notice", {"user_name": "x"}, app.registry.settings)
    finally:
        close_app(app)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            MailTemplate("contract_missing", frozenset(), MAIL_FOLDER),
            "contract_missing.txt not found",
        ),
        (MailTemplate("notice", frozenset(), MAIL_FOLDER), "'notice': must begin 'contract_'"),
    ],
)
def test_a_bad_mail_template_stops_the_start(template, message):
    with pytest.raises(ConfigurationError, match=message):
        load_plugins(_settings(), [ContractModule(templates=[template])])


# --- action labels ------------------------------------------------------------------------------


def test_module_action_labels_join_the_cores():
    modules = ModuleRegistry(make_plugin_manager([ContractModule()]))
    assert action_label("contract.thing.create", modules.action_labels) == "物の登録"
    assert action_label("login.success", modules.action_labels) == "ログイン"
    assert (
        action_label("load.contract.group_names", modules.action_labels)
        == "データ取込（入金グループ名）"
    )
    assert action_label("contract.unknown", modules.action_labels) == "contract.unknown"


def test_an_action_label_outside_the_module_namespace_is_refused():
    plugin = ContractModule(labels={"login.success": "乗っ取り"})
    with pytest.raises(ConfigurationError, match=r"action label 'login.success' must begin"):
        ModuleRegistry(make_plugin_manager([plugin]))


# --- daily jobs ---------------------------------------------------------------------------------


def test_a_module_daily_job_runs_after_the_cores_with_its_settings(app_settings):
    plugin = ContractModule()
    modules = ModuleRegistry(make_plugin_manager([plugin]))
    now = dt.datetime(2026, 4, 1, 3, 0, tzinfo=dt.UTC)

    counts = run_daily(validate(app_settings), now=now, modules=modules)

    assert counts["contract_swept"] == 7
    assert list(counts)[:3] == ["cert_expiring", "cert_expired", "sessions_deleted"]
    (context,) = plugin.job_contexts
    assert context.now == now
    assert context.settings["cjs.module.contract.limit"] == 10


# --- CLI commands -------------------------------------------------------------------------------


def test_a_module_command_is_a_subcommand_of_cjs(tmp_path, capsys, db_url):
    ini = tmp_path / "cjs.ini"
    ini.write_text(
        f"[app:main]\nuse = egg:cjs\nsqlalchemy.url = {db_url}\ncjs.module.contract.limit = 4\n"
        "cjs.environment = development\n"
    )
    commands = list(ModuleRegistry(make_plugin_manager([ContractModule()])).commands.values())
    parser = cli.build_parser(commands)
    args = parser.parse_args(["-c", str(ini), "contract-hello", "--times", "2"])
    # load_settings sees the installed plugins only: the test module's setting is declared here.
    with pytest.raises(ConfigurationError, match=r"cjs.module.contract.limit: unknown setting"):
        args.func(args)
    assert "contract-hello" in parser.format_help()


def test_a_module_command_runs_with_the_validated_settings(monkeypatch, capsys):
    plugin = ContractModule()
    monkeypatch.setattr(
        cli, "load_settings", lambda path: load_plugins(_settings(), [plugin]).settings
    )
    commands = list(ModuleRegistry(make_plugin_manager([plugin])).commands.values())
    args = cli.build_parser(commands).parse_args(["contract-hello", "--times", "2"])

    assert args.func(args) == 3
    assert capsys.readouterr().out == "hello hello 10\n"


def test_a_module_command_may_not_take_a_core_name():
    taken = Command("db", "mine", lambda parser: None, lambda args, settings: 0)
    with pytest.raises(ConfigurationError, match="command 'db': the core has one"):
        cli.build_parser([taken])


# --- loaders ------------------------------------------------------------------------------------


def _group_names(dbsession):
    dbsession.rollback()
    return dict(dbsession.execute(select(DepositGroup.group_no, DepositGroup.name_kanji)).all())


def test_a_file_is_loaded_entirely_with_its_audit_event(app, bank, dbsession, tmp_path):
    data = tmp_path / "names.csv"
    data.write_text("10000001,00000001,本部（新）\n\n10000001,00000002,支部（新）\n", "cp932")
    loader = ModuleRegistry(make_plugin_manager([ContractModule()])).loaders[
        "contract", "group_names"
    ]

    report = loaders.load_file(
        get_session_factory(app.registry),
        loader,
        data,
        now=dt.datetime.now(dt.UTC),
        module="contract",
    )

    assert (report.kind, report.rows) == ("group_names", 2)
    assert _group_names(dbsession)["00000002"] == "支部（新）"
    event = dbsession.scalars(
        select(AuditEvent).where(AuditEvent.action == "load.contract.group_names")
    ).one()
    assert (event.actor_kind, event.target, event.details["rows"]) == ("bank", "names.csv", 2)
    assert len(event.details["sha256"]) == 64


def test_the_same_file_loaded_twice_changes_nothing(app, bank, dbsession, tmp_path):
    """#13 item 5: the second load of the same bytes stores nothing and records no second event."""
    data = tmp_path / "names.csv"
    data.write_text("10000001,00000001,本部（新）\n", "cp932")
    loader = GroupNamesLoader()
    factory = get_session_factory(app.registry)
    now = dt.datetime.now(dt.UTC)
    loaders.load_file(factory, loader, data, now=now, module="contract")

    again = loaders.load_file(factory, loader, data, now=now, module="contract")

    assert (again.rows, again.already_loaded) == (0, True)
    dbsession.rollback()
    events = select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("load.%"))
    assert dbsession.scalar(events) == 1


def test_a_file_with_a_bad_row_is_refused_entirely(app, bank, dbsession, tmp_path):
    """All or nothing: one refused row leaves every row unstored, and each error names its line."""
    before = _group_names(dbsession)
    data = tmp_path / "names.csv"
    data.write_text(
        "10000001,00000001,本部（新）\n10000001,00000009,無い\n10000001,00000002\n", "cp932"
    )
    loader = GroupNamesLoader()

    with pytest.raises(loaders.LoadRefused) as refused:
        loaders.load_file(
            get_session_factory(app.registry),
            loader,
            data,
            now=dt.datetime.now(dt.UTC),
            module="contract",
        )

    assert refused.value.errors == [
        RowError(2, "入金グループ 10000001-00000009 がありません。"),
        RowError(3, "項目数が3ではありません。"),
    ]
    assert _group_names(dbsession) == before
    audit = select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("load.%"))
    assert dbsession.scalar(audit) == 0


def test_the_demo_loads_each_modules_demo_files_once(app, bank, dbsession):
    """#13 item 2: cjs demo loads the files a module generates through its loader, once."""
    modules = ModuleRegistry(make_plugin_manager([ContractModule()]))
    factory = get_session_factory(app.registry)
    now = dt.datetime.now(dt.UTC)

    def mine(lines):
        return [line for line in lines if line.startswith("contract ")]

    first = mine(loaders.load_demo_files(factory, modules, now=now))
    again = mine(loaders.load_demo_files(factory, modules, now=now))

    assert first == ["contract group_names demo_names.csv: 1 row(s) loaded"]
    assert again == ["contract group_names demo_names.csv: already loaded"]
    assert _group_names(dbsession)["00000002"] == "デモ支部"


def test_cjs_bank_load_names_the_kinds_it_knows(tmp_path, db_url, capsys):
    ini = tmp_path / "cjs.ini"
    ini.write_text(f"[app:main]\nuse = egg:cjs\nsqlalchemy.url = {db_url}\n")
    assert cli.main(["-c", str(ini), "bank", "load", "nomodule", "no_such_kind", str(ini)]) == 2
    error = capsys.readouterr().err
    assert "nomodule no_such_kind: no loader for this kind of file" in error
    assert "core messages" in error and "collective_savings details" in error


# --- outputs ------------------------------------------------------------------------------------


def test_outputs_are_served_with_the_engines_headers():
    pdf_output = Output("print", "一覧", "pdf", lambda context: b"%PDF-1.4")
    response = output_response(pdf_output, b"%PDF-1.4", "一覧_20260401.pdf", "cp932")
    assert response.content_type == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"print.pdf\"; filename*=UTF-8''%E4%B8%80%E8%A6%A7_20260401.pdf"
    )
    csv_output = Output("table", "一覧表", "csv", lambda context: CsvTable([], []))
    response = output_response(csv_output, CsvTable(["名前"], [["=x"]]), "一覧表.csv", "utf-8")
    assert response.headers["Content-Type"] == "text/csv; charset=UTF-8"
    assert response.body.decode("utf-8-sig") == '"名前"\r\n"\'=x"\r\n'  # formula-safe cells
    with pytest.raises(TypeError, match="a PDF output builds bytes"):
        output_response(pdf_output, CsvTable([], []), "x.pdf", "cp932")


def test_an_output_gets_a_guarded_module_route(app_settings):
    app = make_app(app_settings, plugins=[ContractModule()])
    try:
        from pyramid.interfaces import IRoutesMapper

        routes = {r.name: r.pattern for r in app.registry.getUtility(IRoutesMapper).get_routes()}
        assert routes["contract:output:table"] == "m/contract/output/table"
    finally:
        close_app(app)


# --- changes_data: declared once ---------------------------------------------------------------


def test_changes_data_is_declared_on_the_view_only(app_settings, bank, dbsession):
    """The menu's flag is the view's: an entry cannot say otherwise (ACC-7)."""
    with pytest.raises(TypeError):
        MenuEntry("登録", "contract:new", changes_data=False)  # type: ignore[call-arg]
    app = make_app(app_settings, plugins=[ContractModule()])
    try:
        modules = get_modules(app.registry)
        assert modules.changes_data("contract:new") is True
        assert modules.changes_data("contract:list") is False
    finally:
        close_app(app)


# --- enablement ---------------------------------------------------------------------------------


def test_a_module_is_told_when_the_bank_enables_or_disables_it(app, bank, dbsession):
    plugin = ContractModule()
    modules = ModuleRegistry(make_plugin_manager([plugin]))
    contract = {
        "contract_no": "10000001",
        "kind": "member",
        "organisation_name": "ろうきん労働組合",
        "initial_password": "Demo#001",
    }

    def declare(*group_modules):
        groups = [
            {"group_no": f"0000000{i + 1}", "name_kanji": "本部", "name_kana": "ﾎﾝﾌﾞ", "modules": m}
            for i, m in enumerate(group_modules)
        ]
        return bank_config.parse(
            {"contracts": [{**contract, "deposit_groups": groups}]}, modules.modules
        )

    with dbsession.begin():
        bank_config.apply(dbsession, declare({"contract": {}}, {}), modules)
    assert plugin.told == [("enabled", "00000001", {})]
    with dbsession.begin():
        bank_config.apply(dbsession, declare({}, {}), modules)
    assert plugin.told[1:] == [("disabled", "00000001", None)]


# --- templates: found per module, never shadowing each other ------------------------------------


def _module_package(root: Path, name: str, code: str, template: str) -> Any:
    """A module plugin package ``name`` under ``root`` with ``templates/<template>``."""
    import importlib

    package = root / name
    (package / "templates" / template).parent.mkdir(parents=True)
    (package / "templates" / template).write_text("<p>{{ code }}</p>", encoding="utf-8")
    (package / "__init__.py").write_text(
        "from core.hookspecs import ServiceModule, hookimpl\n\n\n"
        "@hookimpl\n"
        "def cjs_service_module():\n"
        f"    return ServiceModule(code={code!r}, name='x', menu_title='x', contract_kinds=('member',))\n",
        encoding="utf-8",
    )
    return importlib.import_module(name)


def test_a_modules_templates_folder_is_found_without_a_hook(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    first = _module_package(tmp_path, "cjs_tpl_first", "first", "first/list.html")
    second = _module_package(tmp_path, "cjs_tpl_second", "second", "second/list.html")

    modules = ModuleRegistry(make_plugin_manager([first, second]))

    assert modules.template_folders["first"] == "cjs_tpl_first:templates"
    assert modules.template_folders["second"] == "cjs_tpl_second:templates"


def test_a_template_name_in_two_modules_stops_the_start(tmp_path, monkeypatch):
    """Jinja2 would silently serve the first folder's file for both: refuse instead."""
    monkeypatch.syspath_prepend(str(tmp_path))
    first = _module_package(tmp_path, "cjs_tpl_one", "one", "list.html")
    second = _module_package(tmp_path, "cjs_tpl_two", "two", "list.html")

    with pytest.raises(
        ConfigurationError,
        match=r"template 'list\.html': in the folders of '(one|two)' and '(one|two)'",
    ):
        ModuleRegistry(make_plugin_manager([first, second]))
