"""The template sandbox: no way out to Python internals, no runaway output, native values."""

from __future__ import annotations

from typing import Any

import pytest

from fusebook.errors import InputError, SourceLocation
from fusebook.recipe.sandbox import SANDBOX, compile_expression, compile_template
from fusebook.recipe.secret_value import SecretValue
from fusebook.secret import Secret

from .helpers import KEY

AT = SourceLocation("recipe.yaml", 12, 7)


def names(**extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict(SANDBOX.globals)
    out.update(index=7, vars={"n": 3, "text": "abc"},
               inputs={"macs": {"7": "02:00:00:00:00:07"}, "key": Secret(KEY),
                       "table": {"1": SecretValue(KEY.hex())}})
    out.update(extra)
    return out


def render(source: str, **extra: Any) -> Any:
    return compile_template(source, AT).evaluate(names(**extra))


ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ self }}",
    "{{ self._TemplateReference__context }}",
    "{{ range.__self__ }}",
    "{{ inputs['__class__'] }}",
    "{{ inputs|attr('__class__') }}",
    "{{ inputs.key.reveal() }}",
    "{{ inputs.key._data }}",
    "{{ inputs.table['1'].reveal() }}",
    "{{ vars.update({'n': 1}) }}",
    "{{ '{0.__class__}'.format(1) }}",
    "{% for x in range(3) %}{{ x }}{% endfor %}",
    "{% set x = 1 %}{{ x }}",
    "{% with x = 1 %}{{ x }}{% endwith %}",
    "{% macro m() %}x{% endmacro %}{{ m() }}",
    "{% include 'recipe.yaml' %}",
    "{% import 'x' as y %}",
    "{% extends 'x' %}",
    "{{ loop }}",
    "{{ 'x'|center(100) }}",
    "{{ index.to_bytes(10**9, 'big') }}",
    "{{ dict.mro() }}",
    "{{ dict.fromkeys(range(10)) }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escapes_are_input_errors_at_the_string(source: str) -> None:
    with pytest.raises(InputError) as e:
        render(source)
    assert e.value.exit_code == 2
    assert e.value.location == AT


RUNAWAYS = [
    "{{ range(10**9) }}",
    "{{ range(10**9)|list }}",
    "{{ 'a' * 10**9 }}",
    "{{ [1] * 10**9 }}",
    "{{ (range(60000)|list) * 2 }}",
    "{{ 2 ** (10 ** 9) }}",
    "{{ 10 ** 100000 }}",
    "{{ '%999999999d' % 1 }}",
    "{{ '%*d' % (10**9, 1) }}",
    "{{ '%.999999999f'|format(1.5) }}",
    "{{ ('x' * 60000)|replace('x', 'xx') }}",
    "{{ (['x' * 60000] * 2)|join }}",
    "x{{ 'y' * 40000 }}{{ 'z' * 40000 }}",
    "{{ ('x' * 60000) ~ ('x' * 60000) }}",
    "{{ (range(65536)|map('string')|list|join)|length }}",
]


@pytest.mark.parametrize("source", RUNAWAYS)
def test_runaway_templates_are_refused(source: str) -> None:
    with pytest.raises(InputError) as e:
        render(source)
    assert e.value.exit_code == 2 and e.value.location == AT


@pytest.mark.parametrize(
    "source,value",
    [
        ("{{ index }}", 7),
        ("{{ index + 1 }}", 8),
        ("{{ index > 3 }}", True),
        ("{{ none }}", None),
        ("{{ [1, index] }}", [1, 7]),
        ("{{ {'a': index} }}", {"a": 7}),
        ("{{ 'aabb' | unhex }}", b"\xaa\xbb"),
        ("{{ inputs.macs[index|string] }}", "02:00:00:00:00:07"),
        ("  {{ vars.n }}\n", 3),
        ("{{ vars.text }}", "abc"),
        ("{{ range(4) | list }}", [0, 1, 2, 3]),
        ("{{ '0x10' }}", "0x10"),
        ("{{ 'x' * 3 }}", "xxx"),
        ("{{ 2 ** 10 }}", 1024),
        ("{{ '%04x' % 255 }}", "00ff"),
        ("{{ '%-6s|'|format('ab') }}", "ab    |"),
        ("{{ 'ABC'.lower() }}", "abc"),
    ],
)
def test_one_expression_gives_its_native_value(source: str, value: Any) -> None:
    compiled = compile_template(source, AT)
    assert compiled.native
    result = compiled.evaluate(names())
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(
    "source,text",
    [
        ("unit {{ index }}", "unit 7"),
        ("{{ index }}{{ index }}", "77"),
        ("{% if index > 3 %}big{% else %}small{% endif %}", "big"),
        ("bytes {{ 'aabb' | unhex }}", "bytes aabb"),
        ("{{ vars.n }} and {{ vars.text|upper }}", "3 and ABC"),
    ],
)
def test_other_templates_render_to_text(source: str, text: str) -> None:
    assert render(source) == text


def test_a_secret_is_native_but_redacted_inside_text() -> None:
    assert render("{{ inputs.key }}") == Secret(KEY)
    assert render("{{ inputs.key | hex }}") == Secret(KEY)
    text = render("key: {{ inputs.key }} / {{ inputs.key | hex }} / {{ inputs.key | string }}")
    assert KEY.hex() not in text and "<secret 32 bytes sha256:" in text
    table = render("{{ inputs.table['1'] }} {{ inputs.table['1'] | string }}")
    assert KEY.hex() not in table and "<secret value" in table
    assert render("{{ inputs.table['1'] | unhex }}") == Secret(KEY)


def test_expressions_need_no_braces_but_accept_them() -> None:
    assert compile_expression("index > 3 and vars.n == 3", AT).evaluate(names()) is True
    assert compile_expression("{{ index < 3 }}", AT).evaluate(names()) is False
    with pytest.raises(InputError, match="after the expression") as e:
        compile_expression("index index", AT)
    assert e.value.location == AT


@pytest.mark.parametrize("source,hint", [("{{ idx }}", "did you mean index?"), ("{{ vars.txet }}", "did you mean text?")])
def test_undefined_names_fail_with_a_suggestion(source: str, hint: str) -> None:
    with pytest.raises(InputError) as e:
        render(source)
    assert hint in e.value.message and e.value.location == AT


def test_unknown_filters_are_found_when_compiling() -> None:
    with pytest.raises(InputError) as e:
        compile_template("{{ index | hexx }}", AT)
    assert e.value.hint == "did you mean hex?" and e.value.location == AT


def test_syntax_errors_are_found_when_compiling() -> None:
    with pytest.raises(InputError) as e:
        compile_template("{{ 1 + }}", AT)
    assert "syntax error" in e.value.message and e.value.location == AT
    with pytest.raises(InputError, match="line 2 of the template"):
        compile_template("a\n{{ 1 + }}", AT)


def test_errors_never_quote_a_secret() -> None:
    for source in ("{{ inputs.key + 1 }}", "{{ inputs.key | int + 'x' }}", "{{ inputs.key[0] }}",
                   "{{ inputs.table['1'] | int + 'x' }}", "{{ inputs.key | unhex | mac }}",
                   "{{ inputs.table['1'] | mac }}", "{{ inputs.missing[inputs.key] }}"):
        with pytest.raises(InputError) as e:
            render(source)
        text = e.value.render()
        assert KEY.hex() not in text and KEY.hex().upper() not in text and repr(KEY) not in text, source


def test_the_environment_is_shared_and_not_changed_by_rendering() -> None:
    shared = {"macs": {"7": "x"}}
    for _ in range(3):
        render("{{ inputs.macs['7'] }}", inputs=shared)
    assert shared == {"macs": {"7": "x"}}


def test_mapping_keys_win_over_mapping_methods() -> None:
    assert render("{{ inputs.keys }}", inputs={"keys": "mine"}) == "mine"
    assert render("{{ inputs.items | length }}", inputs={"items": [1, 2]}) == 2
    assert render("{{ vars.keys() | list }}") == ["n", "text"]
