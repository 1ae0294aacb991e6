"""The paper forms and sample manuals the project generates as PDFs (BANK-7), for マニュアル照会.

001 lists the documents customers print from マニュアル照会; among them the 初期パスワード届出書
(会員向け / 事業主向け) and the request form to the bank, named 「ログインID/パスワード初期化・電子証明書
失効等依頼書」 in 001 and 「マスターユーザー削除・電子証明書失効等依頼書」 in the newer 003, whose fields
this follows (SPEC section 5: 依頼日, 郵便番号, ご住所, 団体名, 代表者名, 電話番号, FAX番号, ご担当者,
ご契約番号, お申込印, the request kinds, and the bank's stamps 受付者, 取扱者, 印鑑照合, 検印).

The operation manuals 【会員編】/【事業主編】 are not among the seeds: the two here are short samples
(login and certificate issuance) written from the SPEC, for the demo.

Every function returns the PDF bytes, A4, IPA fonts embedded (:mod:`core.outputs.pdf`); the same arguments
give the same bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from reportlab.platypus import Flowable, Spacer, Table, TableStyle

from core.db.models import ContractKind
from core.outputs.pdf import GOTHIC, LINE, PdfDocument, mm, para
from core.settings import SERVICE_NAME
from core.timefmt import JST

#: The printed version date of the generated documents (their PDF creation date too).
EDITION = dt.datetime(2026, 4, 1, tzinfo=JST)
EDITION_LABEL = "2026年4月版"

#: The 32 symbols a password may hold (SPEC 0, 記号).
SYMBOLS = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


@dataclass(frozen=True)
class BankInfo:
    """What the forms print about the bank: its name, and where requests are sent."""

    name: str = "労働金庫"
    #: The office that receives the forms (e.g. 業務集中センター（賃金控除事務支援サービス担当）).
    office: str = ""
    fax: str = ""
    phone: str = ""


DEMO_BANK = BankInfo(
    name="デモ労働金庫",
    office="デモ労働金庫 業務集中センター（賃金控除事務支援サービス担当）",
    fax="00-0000-0000",
    phone="00-0000-0001",
)


# --- Building blocks of the forms ---------------------------------------------------------------


def _grid(
    data: list[list[object]],
    widths: list[float],
    *,
    heights: list[float] | None = None,
    spans: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (),
    shaded: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (),
    grid: bool = True,
) -> Table:
    """A form table: labels shaded where told, spans, ruled lines."""
    commands: list[tuple[object, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), GOTHIC),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]
    if grid:
        commands.append(("GRID", (0, 0), (-1, -1), 0.7, LINE))
    for start, end in spans:
        commands.append(("SPAN", start, end))
    for start, end in shaded:
        commands.append(("BACKGROUND", start, end, "#eef2f5"))
    return Table(
        data, colWidths=widths, rowHeights=heights, style=TableStyle(commands), hAlign="LEFT"
    )


def _label(text: str) -> Flowable:
    return para(text, "cell")


def _note(text: str) -> Flowable:
    return para(text, "small")


def _boxes(count: int, width: float = 9 * mm, height: float = 9 * mm) -> Table:
    """``count`` empty boxes in a row, one character each (contract number, initial password)."""
    table = Table([[""] * count], colWidths=[width] * count, rowHeights=[height])
    table.setStyle(
        TableStyle([("FONTNAME", (0, 0), (-1, -1), GOTHIC), ("GRID", (0, 0), (-1, -1), 0.7, LINE)])
    )
    return table


def _stamps(labels: list[str], size: float = 20 * mm) -> Table:
    """The bank's stamp boxes: a label row over empty squares (ろうきん使用欄)."""
    table = Table(
        [[para(label, "cell_center") for label in labels], [""] * len(labels)],
        colWidths=[size] * len(labels),
        rowHeights=[6 * mm, size],
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), GOTHIC),
                ("GRID", (0, 0), (-1, -1), 0.7, LINE),
                ("BACKGROUND", (0, 0), (-1, 0), "#eef2f5"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    table.hAlign = "RIGHT"
    return table


def _bank_use(labels: list[str], dated: str = "（本部）　　　　年　　月　　日") -> list[Flowable]:
    return [
        Spacer(1, 3 * mm),
        _grid(
            [[para("ろうきん使用欄", "small_gothic"), para(dated, "small_gothic", alignment=2)]],
            [90 * mm, 90 * mm],
            grid=False,
        ),
        _stamps(labels),
    ]


def _form(title: str, subject: str) -> PdfDocument:
    return PdfDocument(
        title,
        subject=subject,
        author=SERVICE_NAME,
        created_at=EDITION,
        page_numbers=False,
        margin=14 * mm,
    )


# --- 初期パスワード届出書 ---------------------------------------------------------------------------


def initial_password_form(kind: ContractKind | str, bank: BankInfo = BankInfo()) -> bytes:
    """初期パスワード届出書（会員向け / 事業主向け）: the initial password on paper (SPEC 0, BANK-1/3).

    Contract number, organisation, representative and seal, the eight character boxes of the
    initial password (ACC-3) each with 大・小・数・記 to circle against misreading, the date, and the
    bank's stamps.
    """
    kind = ContractKind(kind)
    audience = "会員向け" if kind == ContractKind.MEMBER else "事業主向け"
    organisation = "団体名" if kind == ContractKind.MEMBER else "事業所名"
    title = f"初期パスワード届出書（{audience}）"
    doc = _form(title, f"{SERVICE_NAME} {title}")
    doc.text(SERVICE_NAME, "subtitle")
    doc.title_block(title)
    doc.text("届出日　　　　年　　月　　日", "right")
    doc.text(f"{bank.name} 御中", "gothic", fontSize=12)
    doc.spacer(2 * mm)
    doc.text(f"{SERVICE_NAME}の初期パスワードを、下記のとおり届け出ます。")
    doc.spacer(3 * mm)

    doc.add(
        _grid(
            [
                [_label("ご契約番号"), _boxes(8), _label("お申込印\n（代表者印）")],
                [_label(organisation), "", ""],
                [_label("代表者名\n（肩書および氏名）"), "", ""],
                [_label("ご住所"), para("〒", "cell"), ""],
                [_label("電話番号"), "", ""],
            ],
            [40 * mm, 100 * mm, 42 * mm],
            heights=[13 * mm, 13 * mm, 13 * mm, 16 * mm, 11 * mm],
            spans=(((2, 1), (2, 4)),),
            shaded=(((0, 0), (0, 4)), ((2, 0), (2, 0))),
        ),
        _note(
            "＊「お申込印」には利用申込書により届出ている「お申込印」と同じ印鑑を押してください。"
            "2つのご印鑑（角印と丸印等）でお届出の場合は、両方ともご捺印ください。"
        ),
    )
    doc.spacer(4 * mm)
    doc.heading("初期パスワード（8文字）", level=2)
    kinds = "大・小・数・記"
    doc.add(
        _grid(
            [
                [str(i + 1) for i in range(8)],
                [""] * 8,
                [para(kinds, "small_gothic", alignment=1, fontSize=7) for _ in range(8)],
            ],
            [22 * mm] * 8,
            heights=[5 * mm, 16 * mm, 8 * mm],
            shaded=(((0, 0), (7, 0)),),
        )
    )
    doc.spacer(2 * mm)
    doc.bullets(
        [
            "半角の英大文字・英小文字・数字・記号をそれぞれ1文字以上含む8文字を、1枠に1文字ずつ"
            "ご記入ください。英大文字と英小文字は区別されます。",
            "読み違いを防ぐため、各文字の下の「大（英大文字）・小（英小文字）・数（数字）・"
            "記（記号）」のいずれかを○で囲んでください。",
            f"記号は次の32種類です：{SYMBOLS}",
            "初期パスワードは、マスターユーザーの初期登録（ご契約番号と初期パスワードの入力）に"
            "必要です。マスターユーザーを再登録する場合にも必要となりますので、本届出書の控えを"
            "大切に保管してください。",
            "初期パスワードの入力を6回続けて誤るとロックされ（60分間）、ロックが3回に達すると"
            "閉塞します。閉塞の解除は「マスターユーザー削除・電子証明書失効等依頼書」でご依頼"
            "ください。",
            "初期パスワードを変更する場合は、あらためて本届出書をご提出ください。",
        ]
    )
    doc.add(*_bank_use(["受付者", "取扱者", "印鑑照合", "検印"]))
    return doc.build()


# --- マスターユーザー削除・電子証明書失効等依頼書 (seed 003) --------------------------------------------

REQUEST_TITLE = "マスターユーザー削除・電子証明書失効等依頼書"
#: 001's name for the same form.
REQUEST_TITLE_001 = "ログインID/パスワード初期化・電子証明書失効等依頼書"


def request_form(bank: BankInfo = BankInfo()) -> bytes:
    """マスターユーザー削除・電子証明書失効等依頼書 (003; SPEC section 5, BANK-2/3/4/5)."""
    doc = _form(REQUEST_TITLE, f"{SERVICE_NAME} {REQUEST_TITLE}")
    doc.text(SERVICE_NAME, "subtitle")
    doc.title_block(REQUEST_TITLE)
    doc.text("依頼日　　　　年　　月　　日", "right")
    doc.text(f"{bank.name} 御中", "gothic", fontSize=12)
    doc.spacer(1 * mm)
    doc.text(
        "標記の件につき下記のとおり手続きを依頼します。なお、契約番号照会・初期パスワードの閉塞"
        "（ロックアウト）解除・マスターユーザーの削除ならびに電子証明書失効につきまして、これにより"
        "損害が生じましても貴金庫の責任は一切問いません。",
        fontSize=9.5,
        leading=14,
    )
    doc.spacer(2 * mm)
    doc.add(
        _grid(
            [
                [_label("〒"), "", _label("お申込印\n（代表者印）")],
                [_label("ご住所"), "", ""],
                [_label("団体名"), "", ""],
                [_label("代表者名\n（肩書および氏名）"), "", ""],
            ],
            [38 * mm, 102 * mm, 42 * mm],
            heights=[9 * mm, 14 * mm, 12 * mm, 13 * mm],
            spans=(((2, 1), (2, 3)),),
            shaded=(((0, 0), (0, 3)), ((2, 0), (2, 0))),
        ),
        _grid(
            [
                [
                    _label("電話番号"),
                    "",
                    _label("FAX番号"),
                    "",
                    _label("ご担当者"),
                    "",
                ],
            ],
            [22 * mm, 38 * mm, 20 * mm, 38 * mm, 20 * mm, 44 * mm],
            heights=[11 * mm],
            shaded=(((0, 0), (0, 0)), ((2, 0), (2, 0)), ((4, 0), (4, 0))),
        ),
        _grid(
            [
                [
                    _label("ご契約番号"),
                    _boxes(8, 8 * mm, 8 * mm),
                    _note(
                        "←「ご利用開始（変更）のお知らせ」に記載されているご契約番号をご記入"
                        "ください。"
                    ),
                ]
            ],
            [38 * mm, 68 * mm, 76 * mm],
            heights=[12 * mm],
            shaded=(((0, 0), (0, 0)),),
        ),
        _note(
            "＊「お申込印」には利用申込書により届出ている「お申込印」と同じ印鑑を押してください。"
            "2つのご印鑑（角印と丸印等）でお届出の場合は、両方ともご捺印ください。"
            "「電話番号」は日中ご連絡のつく電話番号をご記入ください。"
        ),
    )
    doc.spacer(3 * mm)
    doc.text("＜手続依頼区分＞　以下の該当欄を○で囲み、必要事項をご記入ください。", "gothic")
    doc.add(
        _grid(
            [
                [
                    "",
                    _label("ご契約番号照会"),
                    _note("ご契約番号がご不明の場合は、「ご契約番号照会」にも○をしてください。"),
                ],
                ["", _label("初期パスワードの閉塞（ロックアウト）解除"), ""],
                [
                    "",
                    _label("マスターユーザーの削除"),
                    para(
                        "手続依頼事由　□パスワード誤入力による閉鎖　□パスワード失念\n"
                        "□その他（　　　　　　　　　　　　　　　　　　）",
                        "cell",
                    ),
                ],
                [
                    "",
                    _label("電子証明書の失効"),
                    para(
                        "※電子証明書を失効するユーザーに✓をしてください。\n"
                        "□マスターユーザー　□一般ユーザー\n"
                        "一般ユーザーのユーザー名（　　　　　　　　　　　　　　）",
                        "cell",
                    ),
                ],
            ],
            [12 * mm, 62 * mm, 108 * mm],
            heights=[11 * mm, 11 * mm, 14 * mm, 19 * mm],
        ),
        _note("一般ユーザーの電子証明書を失効する場合は、ユーザー名もご記入ください。"),
    )
    doc.spacer(2 * mm)
    doc.text("【訂正が必要な場合】", "small_gothic")
    doc.text(
        "再度、依頼書を作成していただくか、訂正箇所を二重線で抹消のうえ訂正いただき、お申込印にて"
        "訂正印をご捺印ください（2つのご印鑑（角印と丸印等）でお届出の場合は、両方ともご捺印"
        "ください。）。",
        "small",
    )
    send_to = [f"《FAX送信先》　{bank.office or bank.name}"]
    if bank.fax:
        send_to.append(f"FAX {bank.fax}")
    doc.text("　".join(send_to), "small_gothic")
    doc.text(
        "ろうきんにFAXが到着した後、お手続きに2時間程お時間をいただきます。処理が終わりましたら、"
        "お電話にて手続き完了のご連絡を申し上げます。",
        "small",
    )
    doc.add(*_bank_use(["検印", "取扱者", "印鑑照合", "受付者"]))
    return doc.build()


# --- Sample operation manuals ---------------------------------------------------------------------

_SCREENS_COMMON = [
    ("DC581101", "トップ画面（ログイン画面）", "ログイン、初期登録、電子証明書発行の入口"),
    ("DC583101", "マスターユーザー初期登録ログイン", "ご契約番号と初期パスワードを入力"),
    ("DC584101", "マスターユーザー初期登録", "ユーザーID・パスワード・ユーザー名・メールアドレス"),
    ("DC586101", "電子証明書発行ユーザー認証", "ユーザーIDとパスワードを入力"),
    ("DC582101", "ログイン", "パスワードを入力"),
]


def operation_manual(kind: ContractKind | str, bank: BankInfo = BankInfo()) -> bytes:
    """操作マニュアル【会員編】/【事業主編】（抜粋・サンプル）: login and certificate issuance."""
    kind = ContractKind(kind)
    member = kind == ContractKind.MEMBER
    edition = "会員編" if member else "事業主編"
    title = f"操作マニュアル【{edition}】"
    doc = PdfDocument(
        f"{title}（抜粋）",
        subject=f"{SERVICE_NAME} {title}（抜粋・サンプル）",
        author=SERVICE_NAME,
        header=f"{SERVICE_NAME}　{title}（抜粋）",
        created_at=EDITION,
    )
    doc.spacer(30 * mm)
    doc.title_block(SERVICE_NAME)
    doc.title_block(title, "ログイン・電子証明書の発行（抜粋・サンプル）")
    doc.spacer(40 * mm)
    doc.text(EDITION_LABEL, "center")
    doc.text(bank.name, "center", fontSize=13, leading=20)
    doc.spacer(30 * mm)
    doc.text(
        "本書はデモンストレーション用のサンプルです。画面はご契約内容、ご利用のパソコン・"
        "ブラウザによって異なる場合があります。",
        "small",
        alignment=1,
    )
    doc.page_break()

    doc.heading("1. ご利用にあたって")
    doc.heading("ご利用時間", level=2)
    doc.text(
        "月～金曜日 8:00～20:00。土・日・祝休日はご利用いただけません。メンテナンス等により、"
        "ご利用時間内でもご利用いただけない場合があります。"
    )
    doc.heading("ご利用環境", level=2)
    doc.text(
        "最新のブラウザ（Microsoft Edge、Google Chrome、Firefox、Safari など）でご利用いただけます。"
        "ポップアップの許可や信頼済みサイトへの登録は不要です。ブラウザの「戻る」「進む」ボタンも"
        "お使いいただけます。"
    )
    doc.heading("ユーザー", level=2)
    doc.bullets(
        [
            "マスターユーザー：1契約につき1名。ご契約のすべての機能と、一般ユーザーの管理、"
            "操作ログの照会ができます。",
            "一般ユーザー：マスターユーザーが最大10名まで登録できます。マスターユーザーが"
            "設定した機能制限の範囲でご利用いただけます。",
        ]
    )
    doc.heading("ユーザーIDとパスワード", level=2)
    doc.bullets(
        [
            "ユーザーID：半角英字と数字をそれぞれ1文字以上含む6～12文字。大文字と小文字は区別"
            "されます。登録後は変更できません。",
            "パスワード：半角の英大文字・英小文字・数字・記号をそれぞれ1文字以上含む8～12文字。",
            "パスワードを6回続けて誤るとロックされ（60分間）、ロックが3回に達すると閉塞します。"
            "一般ユーザーのロック・閉塞はマスターユーザーが解除します。"
            "マスターユーザーが閉塞した場合は、ろうきんへご依頼ください。",
        ]
    )

    doc.heading("2. マスターユーザーの初期登録")
    doc.text(
        "はじめてご利用になるときは、マスターユーザーを登録します。事前に「お申込時にご提示"
        "いただいた書類の控え」と「ご利用開始（変更）のお知らせ」をご用意いただき、ユーザーIDと"
        "パスワードを決めておいてください。"
    )
    doc.steps(
        [
            "トップ画面（DC581101）で「マスターユーザーの初期登録」をクリックします。",
            "「ご利用開始（変更）のお知らせ」に記載されているご契約番号（半角数字8桁）と、"
            "「初期パスワード届出書」に記入いただいた初期パスワード（8桁）を入力し、「次へ」を"
            "クリックします。",
            "ユーザーID、パスワード（再入力を含む）、ユーザー名（全角20文字以内）、メールアドレス"
            "（再入力を含む）を入力し、「登録」をクリックします。携帯電話のメールアドレスは"
            "ご利用いただけません。",
            "登録結果を確認し、「電子証明書発行」をクリックします（3. へ進みます）。",
        ]
    )

    doc.heading("3. 電子証明書の発行")
    doc.text(
        "本サービスには、ご利用のパソコンに電子証明書が必要です。ご利用になるパソコンで、"
        "次の手順により発行してください。"
    )
    doc.steps(
        [
            "トップ画面（DC581101）で「電子証明書発行」をクリックします。",
            "ユーザーIDとパスワードを入力し、「認証」をクリックします。",
            "ご登録のメールアドレス宛に送信された認証コード（半角数字6桁、有効期限30分）を入力し、"
            "「認証」をクリックします。",
            "「発行」をクリックします。「電子証明書発行中」の画面が表示されますので、そのまま"
            "お待ちください。",
            "「電子証明書発行結果」画面が表示されると同時に、拡張子が「p12」の電子証明書ファイルが"
            "ダウンロードされます。ファイルを開いてください。",
            "証明書のインポートウィザードが開始されます。パスワード欄には、ログインの際の"
            "パスワードを入力します。",
            "インポートが終わりましたら、「閉じる」をクリックします。",
        ]
    )
    doc.bullets(
        [
            "電子証明書の有効期限は、発行日を含めて366日です。有効期限の30日前から、ログイン画面の"
            "「電子証明書発行」ボタンより更新できます。有効期限が切れる30日前と、有効期限が過ぎた"
            "ときに、メールでお知らせします。",
            "有効な電子証明書がある間は、新たに発行することはできません。パソコンを変更する場合は、"
            "「マスターユーザー削除・電子証明書失効等依頼書」で電子証明書の失効をご依頼ください。",
        ],
        marker="※",
    )

    doc.heading("4. ログイン")
    login_steps = [
        "トップ画面（DC581101）で「ログイン」をクリックします。",
        "電子証明書の選択画面が表示された場合は、発行先の前半部分がご自身の「ユーザーID」で、"
        "発行者が「Rokin-KW CA」となっている電子証明書を選択します。",
        "ログイン画面（DC582101）でパスワードを入力し、「ログイン」をクリックします。",
    ]
    if member:
        login_steps += [
            "入金グループが複数ある場合は、入金グループ選択画面（DC590101）で、操作する"
            "入金グループの「選択」をクリックします。入金グループはメニューの「入金グループ選択」"
            "からいつでも切り替えられます。",
            "インフォメーション画面（DC671101）が表示されます。前回ログイン日時、スケジュール、"
            "一斉積立の最新データ、お知らせをご確認ください。",
        ]
    else:
        login_steps += [
            "財形のインフォメーション画面（DC671101）が表示されます。預入依頼書などの作成基準日、"
            "お知らせ、前回ログイン日時をご確認ください。",
        ]
    doc.steps(login_steps)
    doc.bullets(
        [
            "仮のパスワードでログインした場合は、パスワードの変更画面が表示されます。"
            "ご自身で決めたパスワードに変更してください。",
            "60分間操作がないと、自動的にログアウトします。終了するときは、画面上部の"
            "「ログアウト」ボタンをクリックしてください。",
        ],
        marker="※",
    )

    doc.heading("5. メニュー")
    if member:
        menus = [
            ("労金控除事務", "労金控除明細の照会・登録、依頼リスト・結果リストの出力など"),
            ("賃控元帳事務", "賃控元帳明細の照会・登録、確認リストの出力など"),
            ("一斉積立事務", "一斉積立内訳明細の照会・出力"),
        ]
    else:
        menus = [("財形貯蓄事務", "財形積立明細の照会・明細書の出力・データエクスポート")]
    menus += [
        ("共通機能", "パスワード変更、マニュアル照会"),
        (
            "システム管理機能",
            "契約ユーザー情報照会（一般ユーザーの登録・変更・削除）、操作ログ照会",
        ),
    ]
    doc.table(["メニュー", "主な機能"], menus, col_widths=[40 * mm, doc.width - 40 * mm])
    doc.text("ご契約内容によっては、ご利用いただけない機能がございます。", "small")

    doc.heading("6. 画面一覧")
    screens = [*_SCREENS_COMMON]
    if member:
        screens.append(("DC590101", "入金グループ選択", "操作する入金グループを選択"))
    screens.append(("DC671101", "インフォメーション", "前回ログイン日時・お知らせなど"))
    doc.table(
        ["画面ID", "画面名", "内容"],
        screens,
        col_widths=[24 * mm, 62 * mm, doc.width - 86 * mm],
        align_center=[0],
    )
    return doc.build()


# --- What マニュアル照会 offers: the forms everywhere, the sample manuals in the demo ---------------


@dataclass(frozen=True)
class GeneratedDocument:
    """A generated PDF registered for マニュアル照会: name, comment, audience, file name, order."""

    title: str
    comment: str
    audience: str
    filename: str
    sort_order: int
    build: Callable[[BankInfo], bytes]


SAMPLE_MANUALS: tuple[GeneratedDocument, ...] = (
    GeneratedDocument(
        "操作マニュアル【会員編】",
        "ログインと電子証明書の発行（抜粋・サンプル）",
        "member",
        "操作マニュアル【会員編】.pdf",
        10,
        lambda bank: operation_manual(ContractKind.MEMBER, bank),
    ),
    GeneratedDocument(
        "操作マニュアル【事業主編】",
        "ログインと電子証明書の発行（抜粋・サンプル）",
        "employer",
        "操作マニュアル【事業主編】.pdf",
        10,
        lambda bank: operation_manual(ContractKind.EMPLOYER, bank),
    ),
)

#: The forms customers print from マニュアル照会 (001 p.43-46): published on every installation by
#: ``cjs bank publish-forms``.
FORMS: tuple[GeneratedDocument, ...] = (
    GeneratedDocument(
        "初期パスワード届出書（会員向け）",
        "初期パスワードの届出・変更のときにご提出ください。",
        "member",
        "初期パスワード届出書（会員向け）.pdf",
        50,
        lambda bank: initial_password_form(ContractKind.MEMBER, bank),
    ),
    GeneratedDocument(
        "初期パスワード届出書（事業主向け）",
        "初期パスワードの届出・変更のときにご提出ください。",
        "employer",
        "初期パスワード届出書（事業主向け）.pdf",
        50,
        lambda bank: initial_password_form(ContractKind.EMPLOYER, bank),
    ),
    GeneratedDocument(
        REQUEST_TITLE,
        "ご契約番号照会、初期パスワードの閉塞解除、マスターユーザーの削除、電子証明書の失効の"
        f"ご依頼に（旧称：{REQUEST_TITLE_001}）",
        "both",
        f"{REQUEST_TITLE}.pdf",
        60,
        request_form,
    ),
)

#: What マニュアル照会 offers in the demo: the sample manuals and the forms.
DEMO_DOCUMENTS: tuple[GeneratedDocument, ...] = SAMPLE_MANUALS + FORMS
