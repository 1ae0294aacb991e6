"""Messages the password-like steps share: the same answer whatever the password was (AUTH-1)."""

from core.i18n import _

LOCKED = _(
    "パスワードの誤入力が規定回数に達したため、ロックされています。"
    "60分経過後に、再度操作してください。"
)
BLOCKED_USER = _(
    "パスワードの誤入力が規定回数に達したため、閉塞されています。"
    "一般ユーザーの方はマスターユーザーに、マスターユーザーの方はお取引の労働金庫にお問い合わせください。"
)
BLOCKED_INITIAL = _(
    "初期パスワードの誤入力が規定回数に達したため、閉塞されています。"
    "お取引の労働金庫にお問い合わせください。"
)
