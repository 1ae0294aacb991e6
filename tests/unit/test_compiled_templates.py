"""core.app.CompiledTemplates: applications built in one process compile each template once, and a
changed template is compiled again (never served from an old compilation)."""

from __future__ import annotations

from jinja2 import DictLoader, Environment

from core.app import CompiledTemplates


def test_a_template_is_compiled_once_and_again_when_it_changes(monkeypatch) -> None:
    cache = CompiledTemplates()
    sources = {"page.html": "こんにちは {{ name }}"}
    compiled: list[str] = []

    def environment() -> Environment:
        env = Environment(loader=DictLoader(sources), bytecode_cache=cache, autoescape=True)
        compile_source = env.compile

        def counting(source, name=None, filename=None, raw=False, defer_init=False):  # type: ignore[no-untyped-def]
            compiled.append(name)
            return compile_source(source, name, filename, raw, defer_init)

        monkeypatch.setattr(env, "compile", counting)
        return env

    assert environment().get_template("page.html").render(name="A") == "こんにちは A"
    assert environment().get_template("page.html").render(name="B") == "こんにちは B"
    assert compiled == ["page.html"]  # the second application used the first one's code

    sources["page.html"] = "さようなら {{ name }}"
    assert environment().get_template("page.html").render(name="C") == "さようなら C"
    assert compiled == ["page.html", "page.html"]
