"""The manuals' texts on the customer screens (#15 item 2; SPEC section 2): labels, hints, the
【入力項目説明】 and the 「ご注意ください」 notes in the manuals' words (seed 001 unless said otherwise;
002 for DC586101's and the code screen's notes, 000 for DC583101's lock note and the result's
「ログイン画面へ」 sentence), and what the issue listed besides: ログアウト on the forced change, the
hours notice from the settings, the menu headings as disclosure buttons, 「賃控元帳」 on the user
screens."""

from __future__ import annotations

import datetime as dt
from typing import Any

import webtest
from conftest import MASTER, Customer

from core.app import close_app, make_app
from core.clock import set_clock
from core.timefmt import JST

TEMPORARY = "Temp#1234"
PASSWORD_HINT = "（半角英大文字、英小文字、数字、記号混在8～12桁）"
PASSWORD_RULE = [
    "8～12桁で入力します。",
    "・半角英大・小文字、数字、記号の4種必須です。",
    "（英字は大文字と小文字を区別します。）",
]


def hints(page: Any) -> dict[str, str]:
    """The hint shown next to each field, by field name."""
    return {
        field["name"]: field.find_parent(class_="field").find(class_="hint").get_text()
        for field in page.html.select(".field input[name]")
        if field.find_parent(class_="field").find(class_="hint")
    }


def labels(page: Any) -> dict[str, str]:
    return {label["for"]: label.get_text() for label in page.html.select(".field label[for]")}


def field_help(page: Any) -> dict[str, list[str]]:
    """The 【入力項目説明】 table: label → lines (the label without its ＜必須＞ mark)."""
    section = page.html.select_one(".field-help")
    assert section.h2.get_text() == "【入力項目説明】"
    return {
        row.th.contents[0].get_text().strip(): [line.get_text() for line in row.select(".line")]
        for row in section.select("tr")
    }


def required_in_field_help(page: Any) -> list[str]:
    """The labels of the 【入力項目説明】 marked ＜必須＞ (002 「④ ユーザー認証」)."""
    return [
        row.th.contents[0].get_text().strip()
        for row in page.html.select(".field-help tr")
        if row.th.select_one(".required")
        and row.th.select_one(".required").get_text() == "＜必須＞"
    ]


def notes(page: Any, title: str = "ご注意ください") -> list[str]:
    for section in page.html.select("section.notice"):
        if section.h2.get_text() == title:
            return [item.get_text() for item in section.select("li")]
    raise AssertionError(f"no {title} on {page.request.path}")


def test_dc583101_and_dc584101_in_the_manuals_words(testapp, bank):
    """001 p.8 (3) DC583101 (the initial password: 8桁, 4種必須 — ACC-3; 000 ③ for the lock note)
    and 001 p.9 (4) DC584101 (hints, the two ● notes, 【入力項目説明】, ご注意ください)."""
    page = testapp.get("/register/master").maybe_follow()
    assert "契約番号と初期パスワードを入力してください。" in page.text
    assert field_help(page) == {
        "契約番号": [
            "「ろうきん賃金控除事務支援サービス ご利用開始（変更）のお知らせ」に記載されている"
            "「ご契約番号」です。",
            "半角数字8桁で入力します。",
        ],
        "初期パスワード": [
            "「ろうきん賃金控除事務支援サービス 初期パスワード届出書」に記入いただいた"
            "「初期パスワード」です。",
            "8桁で入力します。",
            *PASSWORD_RULE[1:],
        ],
    }
    assert "※ 閉塞の状態になった場合は、労金へお問い合わせください。" in notes(page)
    form = page.forms[0]
    form["contract_no"], form["initial_password"] = MASTER["contract_no"], "Demo#001"
    page = form.submit().maybe_follow()
    assert "DC584101" in page.text and "以下を入力してください。" in page.text
    assert labels(page)["password_confirm"] == "パスワード再入力"
    assert labels(page)["email_confirm"] == "メールアドレス再入力"
    assert hints(page) == {
        "user_id": "（半角英数混在6～12桁）",
        "password": PASSWORD_HINT,
        "password_confirm": PASSWORD_HINT,
        "user_name": "（全角20文字以内）",
        "email": "（半角英数50桁以内）",
        "email_confirm": "（半角英数50桁以内）",
    }
    assert "●一度登録したユーザーIDは、画面上では変更できません。" in page.text
    assert (
        "●入力いただいたユーザーIDが既に存在している場合は登録できませんので、"
        "別のIDを登録してください。" in page.text
    )
    assert field_help(page) == {
        "ユーザーID": [
            "6～12桁で入力します。",
            "・半角英、数字の2種必須です。",
            "（英字は大文字と小文字を区別します。）",
        ],
        "パスワード": PASSWORD_RULE,
        "パスワード再入力": ["登録するパスワードの確認用です。"],
        "ユーザー名": ["全角20文字以下で入力します。（カナ、漢字含む）"],
        "メールアドレス": [
            "半角英数50桁以下で入力します。",
            "※携帯電話のアドレスは不可",
            "※ ご登録いただいたメールアドレスにお知らせ等のメールが送られます。",  # 000 ③
        ],
        "メールアドレス再入力": ["登録するメールアドレスの確認用です。"],
    }
    assert notes(page) == [
        "ユーザーIDは、マスターユーザーの電子証明書の発行（再発行）時に使用します。",
        "パスワードは、マスターユーザーが電子証明書発行（再発行）およびログイン時に使用します。",
        "※ ID・パスワードは、お忘れにならないようご注意ください。また、第三者に知られることの"
        "ないよう厳重に管理してください。",
    ]


def test_the_registration_result_and_the_issuance_screens(customer):
    """001 p.9 (5) the result (「電子証明書の更新・発行」); (6) DC586101 with 002 ④'s 【入力項目説明】
    and notes; (7) the code screen with its ご注意ください; DC582101 (001 p.19)."""
    result = customer.register_master()
    assert "マスターユーザーの登録を完了しました。" in result.text
    section = result.html.select_one("section.entrance")
    assert section.h2.get_text() == "電子証明書の更新・発行"
    assert "引き続き電子証明書発行を行います。「電子証明書発行」ボタンを押してください。" in (
        section.get_text()
    )
    customer.app.reset()
    page = customer.app.get("/cert").maybe_follow()
    assert "電子証明書発行に必要なユーザー認証を行います。" in page.text
    assert hints(page)["password"] == PASSWORD_HINT
    assert field_help(page)["パスワード"] == PASSWORD_RULE
    assert required_in_field_help(page) == ["ユーザーID", "パスワード"]
    assert "※「マスターユーザーの初期登録」で登録したユーザーIDとパスワードを入力します。" in (
        page.text
    )  # 000 「① ユーザー認証」
    assert "※ ロックまたは閉塞の状態になった場合、該当ユーザーにメールでお知らせします。" in notes(
        page
    )
    code = customer.start_issue(MASTER["user_id"], MASTER["password"])
    assert "登録されているメールアドレスに認証コードを送信しました。" in code.text
    assert notes(code) == [
        "認証コードのメールが届かない場合、登録されたメールアドレスを再度ご確認ください。"
    ]
    assert field_help(code) == {
        "認証コード": [
            "※ユーザーメールアドレスに送信された認証コードを入力します。",  # 002 ⑤
            "半角数字6桁で入力します。（数字のみ、有効期限30分）",
        ]
    }
    customer.app.reset()
    data, _ = customer.issue(MASTER["user_id"], MASTER["password"])
    customer.app.reset()
    customer.use_certificate(data, MASTER["password"])
    login = customer.app.get("/login").maybe_follow()
    assert "ログインパスワードを入力してください。" in login.text


def _general_user_at_the_forced_change(customer: Customer, app: Any, dbsession: Any) -> Customer:
    customer.register_master()
    customer.app.reset()
    data, _ = customer.issue(MASTER["user_id"], MASTER["password"])
    customer.app.reset()
    customer.use_certificate(data, MASTER["password"])
    page = customer.login(MASTER["password"])
    page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    page = customer.app.get("/users/new")
    assert "賃控元帳" in page.html.select_one("#restrictions").get_text()  # 001 p.27
    assert "賃金控除元帳" not in page.html.select_one("#restrictions").get_text()
    assert field_help(page)["パスワード"] == ["一般ユーザーの仮のパスワードを入力", *PASSWORD_RULE]
    form = page.forms["user-form"]
    for name, value in {
        "user_id": "goro4567",
        "user_name": "労金　五郎",
        "password": TEMPORARY,
        "password_confirm": TEMPORARY,
        "email": "goro@example.com",
        "email_confirm": "goro@example.com",
    }.items():
        form[name] = value
    form.submit().maybe_follow()
    edit = customer.app.get("/users/goro4567")
    assert "賃控元帳" in edit.html.select_one("#restrictions").get_text()  # DM492101 (001 p.42)
    assert "※ 変更しない項目は入力不要です。" in edit.text
    general = Customer(
        webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}),
        dbsession,
    )
    data, _ = general.issue("goro4567", TEMPORARY, "goro@example.com")
    general.app.reset()
    general.use_certificate(data, TEMPORARY)
    return general


def test_the_forced_change_has_the_manuals_help_and_a_logout(customer, app, dbsession):
    """001 p.31 (23): the forced change's 【入力項目説明】 (仮パスワード, 新しいパスワードの確認用です。)
    and ログアウト (SPEC section 2: on every page) that ends the session (FLOW-7)."""
    general = _general_user_at_the_forced_change(customer, app, dbsession)
    page = general.login(TEMPORARY)
    assert page.request.path == "/password/initial"
    assert field_help(page) == {
        "現在のパスワード": [
            "マスターユーザーから付与された仮パスワードを入力してください。",
            *PASSWORD_RULE,
        ],
        "新しいパスワード": [
            "一般ユーザーご自身でお決めいただいたパスワードを入力してください。",
            *PASSWORD_RULE,
        ],
        "新しいパスワード再入力": ["新しいパスワードの確認用です。"],
    }
    assert labels(page)["new_password_confirm"] == "新しいパスワード再入力"
    top = page.forms["logout"].submit().maybe_follow()
    assert top.request.path == "/" and "ログアウトしました。" in top.text
    assert general.app.get("/password/initial").maybe_follow().request.path == "/"


def test_the_menu_headings_are_marked_for_disclosure_buttons(customer):
    """The menu bar (001): each heading with links is marked for menu.js, which turns it into a
    disclosure button; its links are a plain list in the page (they work without the script)."""
    customer.register_master()
    customer.app.reset()
    data, _ = customer.issue(MASTER["user_id"], MASTER["password"])
    customer.app.reset()
    customer.use_certificate(data, MASTER["password"])
    page = customer.login(MASTER["password"])
    page = page.forms["groups-form"].submit("group_id", index=1).maybe_follow()  # 東支部: all three
    nav = page.html.select_one("nav.menu-bar")
    headings = {h.get_text(): h.find_next_sibling("ul") for h in nav.select("[data-menu-heading]")}
    assert {"一斉積立事務", "共通機能", "システム管理機能"} <= set(headings)
    for heading in nav.select(".menu-heading"):  # a module with no screen yet has no list
        assert heading.has_attr("data-menu-heading") == bool(heading.find_next_sibling("ul"))
    for title, links in headings.items():
        assert links is not None and links["id"], title
        assert links.select("a[href]"), title
    assert [a.get_text() for a in headings["共通機能"].select("a")] == [
        "パスワード変更",
        "マニュアル照会",
    ]
    script = page.html.select_one('script[src$="/static/menu.js"]')
    assert script is not None and script.has_attr("defer")
    source = customer.app.get("/static/menu.js").text
    assert "aria-expanded" in source and "aria-controls" in source


def test_the_hours_notice_names_the_closed_days_of_the_settings(app_settings):
    """AUTH-7: closed.html takes its closed days from the settings, not a fixed 「土・日・祝休日」."""
    settings = {
        **app_settings,
        "cjs.hours.always_open": "false",
        "cjs.hours.open_days": "mon tue wed thu fri sat",
        "cjs.hours.national_holidays_closed": "false",
        "cjs.hours.closed_days": "12-31 01-01",
    }
    app = make_app(settings)
    try:
        set_clock(app.registry, lambda: dt.datetime(2026, 11, 29, 10, 0, tzinfo=JST))  # Sunday
        page = webtest.TestApp(app).get("/", status=503)
        headers = [th.get_text() for th in page.html.select("table.hours th")]
        assert headers == ["月～土曜日", "日"]
        assert "12月31日・1月1日はご利用いただけません。" in page.text
        assert "土・日・祝休日" not in page.text
        assert (  # 001 p.3
            "※上記時間帯であってもメンテナンス等によりご利用いただけない場合がございます。"
            "あらかじめご了承ください。" in page.text
        )
        footer = page.html.select_one("footer.site-footer").get_text()
        assert "ご利用時間：月～土曜日 8:00～20:00（年末年始を除く）" in footer  # not 祝休日
    finally:
        close_app(app)


def test_the_top_page_explains_the_browsers_certificate_picker(testapp):
    """001 p.19 and p.29 (2), 000 「① URLアクセス」, 002 「② 電子証明書選択」: the notes on the
    certificate selection window the browser shows before our first screen."""
    page = testapp.get("/")
    assert notes(page, "電子証明書の選択画面について") == [
        "利用するパソコンに複数の電子証明書が存在する場合、証明書の選択ウィンドウに表示される"
        "証明書情報にご自身のユーザーIDが含まれる証明書を選択してください。",
        "※ 誤って違う電子証明書を選択してしまった場合は、開いているブラウザをすべて閉じ、"
        "本システムへのアクセスから再度やり直してください。",
        "※ ブラウザのバージョンや設定の違い等により、電子証明書発行前であってもURLアクセス時に"
        "電子証明書の選択画面が表示されることがあります。その場合、選択すべき電子証明書はないため、"
        "そのまま［OK］ボタンを押してください。",
        "※ 一般ユーザーの初期登録でマスターユーザーと同一のパソコンを使用する場合、"
        "マスターユーザーの電子証明書が表示される場合がありますので、［キャンセル］ボタンを"
        "押してください。",
    ]


def test_the_issue_and_result_screens_say_where_the_certificate_works(customer):
    """000 「■ 電子証明書発行」 on the 発行 screen (its "Windows" made general, SPEC 8); 002 「⑧ 発行
    結果」: close the browser and start it again; 001 p.10 (11): a file that cannot be found is issued
    again while unused (CERT-3's replacement, on in these settings)."""
    customer.register_master()
    customer.app.reset()
    page = customer.start_issue(MASTER["user_id"], MASTER["password"])
    page.form["code"] = customer.latest_code(MASTER["email"])
    issue = page.form.submit().maybe_follow()
    assert (
        "電子証明書をインポートしたパソコンからのみ本システムへのログインが可能になります。"
        in issue.text
    )
    assert "※ 電子証明書はパソコンのログオンアカウント（OSのユーザー）ごとにインポートして" in (
        issue.text
    )
    assert "Windows" not in issue.text
    result = issue.forms[0].submit().maybe_follow()
    result = result.forms["issuing-form"].submit().maybe_follow()
    assert (
        "「閉じる」を押した後は、ブラウザを閉じてください。引き続きサービスを利用する場合は、"
        "再度ブラウザを起動して本システムにアクセスします。" in result.text
    )
    assert (
        "なお、ダウンロードフォルダの中にファイルが見当たらない、どこにダウンロードしたかわからない"
        "時は、ログインに使う前であれば、電子証明書を発行し直すことができます。" in notes(result)
    )
