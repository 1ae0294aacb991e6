"""The ``cjs`` command: database, CA, bank configuration and data files, jobs, serving and the demo,
and the service modules' own subcommands (``cjs_cli_commands``).

Every command reads the settings of an ini file (``-c``, default ``$CJS_CONFIG`` or development.ini).
A configuration error prints one line, ``cjs: <setting>: <what is wrong>``, and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from pyramid.paster import get_appsettings

from core.hookspecs import Command
from core.plugins import ModuleRegistry, Plugins, load_plugins, make_plugin_manager
from core.settings import ConfigurationError, words
from core.staff.roles import StaffRole


def load_configuration(config_path: str) -> Plugins:
    """Read the ``[app:main]`` settings of an ini file (PasteDeploy format), load the plugins and
    validate the settings, the modules' own included."""
    if not os.path.exists(config_path):
        raise ConfigurationError(f"{config_path}: configuration file not found")
    return load_plugins(dict(get_appsettings(config_path)))


def load_settings(config_path: str) -> dict[str, Any]:
    """The validated settings of an ini file (see :func:`load_configuration`)."""
    return load_configuration(config_path).settings


def _db(args: argparse.Namespace) -> int:
    from core.db import migrate as dbmigrate
    from core.plugins import make_plugin_manager

    settings = load_settings(args.config)
    url = settings["sqlalchemy.url"]
    plugins = make_plugin_manager(disabled=settings["cjs.plugins.disabled"])
    if args.action == "upgrade":
        dbmigrate.upgrade(url, args.revision or "heads", plugins, settings)
    elif args.action == "downgrade":
        dbmigrate.downgrade(url, args.revision or "base", plugins, settings)
    else:
        differences = dbmigrate.check(url, plugins)
        if differences:
            for line in differences:
                print(line)
            return 1
        print("database schema matches the models")
    return 0


def _ca(args: argparse.Namespace) -> int:
    from core.pki import ca

    settings = load_settings(args.config)
    if args.signer:
        settings["cjs.ca.signer"] = args.signer
    if args.action == "init":
        path = ca.init_ca(settings)
        print(f"CA certificate: {path}")
        print(f"client CA file: {ca.client_ca_file(settings)}")
    elif args.action == "rotate":
        rotation = ca.rotate_ca(settings, key_label=args.key_label)
        print(
            f"new CA certificate: {rotation.certificate_path} ({rotation.signer} key {rotation.key})"
        )
        print(
            f"previous CA: {rotation.previous.path} "
            f"(accepted until {rotation.previous.accepted_until.isoformat()})"
        )
        print(f"client CA bundle: {rotation.bundle_path}")
        for step in rotation.next_steps:
            print(f"next: {step}")
    elif args.action == "bundle":
        print(f"client CA bundle: {ca.write_bundle(settings)}")
    else:
        for key, value in ca.describe(settings).items():
            print(f"{key}: {value}")
    return 0


def _bank(args: argparse.Namespace) -> int:
    from core.bank import config as bank

    settings = load_settings(args.config)
    for line in bank.apply_file_with_settings(settings, args.file):
        print(line)
    return 0


def _publish_forms(args: argparse.Namespace) -> int:
    from core.bank import manuals
    from core.bank.paper_forms import BankInfo

    bank = BankInfo(name=args.bank_name, office=args.office, fax=args.fax, phone=args.phone)
    for line in manuals.publish_forms_with_settings(load_settings(args.config), bank):
        print(line)
    return 0


def _load(args: argparse.Namespace) -> int:
    from core.bank import loaders
    from core.db import make_engine, make_session_factory
    from core.db.models import utcnow

    loaded = load_configuration(args.config)
    kinds = loaders.all_loaders(loaded.modules.loaders)
    loader = kinds.get((args.module, args.kind))
    if loader is None:
        known = ", ".join(" ".join(key) for key in sorted(kinds))
        raise ConfigurationError(
            f"{args.module} {args.kind}: no loader for this kind of file (known: {known})"
        )
    engine = make_engine(loaded.settings["sqlalchemy.url"])
    try:
        report = loaders.load_file(
            make_session_factory(engine), loader, args.file, now=utcnow(), module=args.module
        )
    except loaders.LoadRefused as refused:
        for error in refused.errors:
            print(f"{args.file}:{loaders.describe(error)}", file=sys.stderr)
        print(f"cjs: {refused}", file=sys.stderr)
        return 1
    except OSError as exc:
        raise ConfigurationError(f"{args.file}: {exc.strerror}") from None
    finally:
        engine.dispose()
    if report.already_loaded:
        print(f"{report.kind}: already loaded, nothing changed")
    else:
        print(f"{report.kind}: {report.rows} row(s) loaded")
    return 0


def _jobs(args: argparse.Namespace) -> int:
    from core.cli import jobs

    return jobs.jobs_command(args, load_settings(args.config))


def _serve(args: argparse.Namespace) -> int:
    from core.cli import server

    return server.serve_command(args, load_settings(args.config))


def _staff(args: argparse.Namespace) -> int:
    from core.cli import staff

    return staff.create_command(args, load_settings(args.config))


def _demo(args: argparse.Namespace) -> int:
    from core.cli import demo

    return demo.demo_command(args, load_settings(args.config))


def _audit(args: argparse.Namespace) -> int:
    from core.cli import audit

    return audit.audit_command(args, load_settings(args.config))


def _module_command(command: Command) -> Any:
    def run(args: argparse.Namespace) -> int:
        return command.run(args, load_settings(args.config))

    return run


def build_parser(module_commands: Sequence[Command] = ()) -> argparse.ArgumentParser:
    """The argument parser of ``cjs`` with its subcommands and the modules' ``module_commands``."""
    parser = argparse.ArgumentParser(prog="cjs", description=__doc__.splitlines()[0])
    parser.add_argument(
        "-c",
        "--config",
        default=os.environ.get("CJS_CONFIG", "development.ini"),
        help="ini file with an [app:main] section (default: $CJS_CONFIG or development.ini)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="migrate the database")
    db.add_argument("action", choices=["upgrade", "downgrade", "check"])
    db.add_argument(
        "revision",
        nargs="?",
        help="target revision (upgrade: heads, every branch's newest; downgrade: base)",
    )
    db.set_defaults(func=_db)

    ca_cmd = commands.add_parser("ca", help="the service's own CA")
    ca_cmd.add_argument(
        "action",
        choices=["init", "show", "rotate", "bundle"],
        help="init: create the CA if missing; show: signer, key, validity, previous CAs; "
        "rotate: new CA key, the current CA kept for the cross-over; bundle: rewrite ca-bundle.pem",
    )
    ca_cmd.add_argument(
        "--signer", help="use this signer instead of cjs.ca.signer (e.g. software or pkcs11)"
    )
    ca_cmd.add_argument(
        "--key-label", help="rotate: name of the new key where the signer keeps it (pkcs11: label)"
    )
    ca_cmd.set_defaults(func=_ca)

    bank = commands.add_parser(
        "bank", help="the bank's files: configuration (contracts, groups) and data"
    )
    bank_actions = bank.add_subparsers(dest="action", required=True)
    apply = bank_actions.add_parser("apply", help="apply a bank configuration file")
    apply.add_argument("file")
    apply.set_defaults(func=_bank)
    publish = bank_actions.add_parser(
        "publish-forms",
        help="publish the generated forms (初期パスワード届出書, 依頼書) in マニュアル照会 (BANK-7; "
        "those already published are left alone)",
    )
    publish.add_argument("--bank-name", default="労働金庫", help="the bank's name on the forms")
    publish.add_argument("--office", default="", help="the office the forms are sent to")
    publish.add_argument("--fax", default="", help="its FAX number")
    publish.add_argument("--phone", default="", help="its telephone number")
    publish.set_defaults(func=_publish_forms)
    load = bank_actions.add_parser(
        "load",
        help="load a bank data file: the core's messages and schedules, a module's data (all rows "
        "or none; the same file twice changes nothing)",
    )
    load.add_argument("module", help="core (messages, schedules) or a module's code")
    load.add_argument("kind", help="the kind of file (of the core, or one of the module's loaders)")
    load.add_argument("file")
    load.set_defaults(func=_load)

    jobs = commands.add_parser(
        "jobs", help="daily job (CERT-5 notices, expired sessions, modules' jobs) and mail sender"
    )
    jobs.add_argument("action", choices=["daily", "send-mail"])
    jobs.add_argument("--once", action="store_true", help="send-mail: one pass, then exit")
    jobs.set_defaults(func=_jobs)

    serve = commands.add_parser("serve", help="serve HTTPS with optional client certificates")
    serve.add_argument("--host", help="default 127.0.0.1; with --staff, cjs.staff.listen's host")
    serve.add_argument(
        "--port", type=int, help="default 8443; with --staff, cjs.staff.listen's port"
    )
    serve.add_argument(
        "--staff",
        action="store_true",
        help="serve the bank staff's application (client certificates required)",
    )
    serve.add_argument(
        "--behind-proxy",
        action="store_true",
        help="serve plain HTTP for a TLS proxy (nginx) in front; needs cjs.proxy.trusted",
    )
    serve.set_defaults(func=_serve)

    staff = commands.add_parser("staff", help="bank staff accounts of the back office")
    staff_actions = staff.add_subparsers(dest="action", required=True)
    create = staff_actions.add_parser(
        "create",
        help="create a staff account, write its certificate (PKCS#12), print its initial password",
    )
    create.add_argument("--staff-id", required=True, help="the staff ID (its certificate's CN)")
    create.add_argument("--name", required=True, help="the staff member's name")
    create.add_argument(
        "--admin",
        action="store_true",
        help="an administrator; refused while an active administrator exists",
    )
    create.add_argument(
        "--role",
        action="append",
        choices=[role.value for role in StaffRole],
        help="a role (repeatable): operator, approver, administrator",
    )
    create.add_argument("--out", required=True, help="the PKCS#12 file to write (must not exist)")
    create.set_defaults(func=_staff)

    demo = commands.add_parser("demo", help="prepare the demo data and serve it with a mailbox")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8443)
    demo.add_argument(
        "--smtp-port",
        type=int,
        default=None,
        help="port of the demo SMTP server, where the app's mail goes (default: cjs.mail.smtp_port)",
    )
    demo.add_argument(
        "--staff-port",
        type=int,
        default=None,
        help="port of the staff console (default: the port of cjs.staff.listen)",
    )
    demo.set_defaults(func=_demo)

    from core.cli import audit as audit_cli

    audit_cli.add_parser(commands, _audit)

    for command in module_commands:
        if command.name in commands.choices:
            raise ConfigurationError(f"command {command.name!r}: the core has one of that name")
        sub = commands.add_parser(command.name, help=command.help)
        command.add_arguments(sub)
        sub.set_defaults(func=_module_command(command))
    return parser


def module_commands(argv: Sequence[str] | None) -> list[Command]:
    """The subcommands of the modules installed and not disabled in the ``-c`` file (if it exists)."""
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("-c", "--config", default=os.environ.get("CJS_CONFIG", "development.ini"))
    known, _rest = first.parse_known_args(argv)
    disabled: tuple[str, ...] = ()
    if os.path.exists(known.config):
        disabled = words(get_appsettings(known.config).get("cjs.plugins.disabled", ""))
    return list(ModuleRegistry(make_plugin_manager(disabled=disabled)).commands.values())


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cjs``; configuration errors become one line on stderr and exit status 2."""
    try:
        args = build_parser(module_commands(argv)).parse_args(argv)
        return int(args.func(args))
    except ConfigurationError as exc:
        print(f"cjs: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
