"""The validator's problems in the reader's language.

The validator (definitions/) runs outside any request and writes English sentences
from a small number of shapes: "<what> is missing the required key 'x'.", "<what>
has an unknown key 'x' ...", "<what> must be a number, not text.", and so on, where
<what> is a path said in words ("the 'label' of field 'amount'"). The common shapes
are matched here and said again through the catalogue, <what> included, so the
designer and the API show them in Chinese to a Chinese reader. A sentence no shape
matches is shown as the validator wrote it: never lost, at worst in English.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Callable

from flask_babel import gettext as _

from ..definitions.problems import Problem
from .helpers import lang

Q = r"'(?:[^'\\]|\\.)*'"            # a Python repr of a key or value
_SUBJECT_NOUNS = {
    "entity": lambda: _("entity"), "field": lambda: _("field"), "column": lambda: _("column"),
    "stage": lambda: _("stage"), "rule": lambda: _("rule"), "action": lambda: _("action"),
    "option": lambda: _("option"), "gate condition": lambda: _("gate condition"),
    "related-record requirement": lambda: _("related-record requirement"), "item": lambda: _("item"),
}
_WHOLE = {"app": lambda: _("the app"), "workflow": lambda: _("the workflow"), "dashboard": lambda: _("the dashboard"),
          "entity": lambda: _("the entity"), "field": lambda: _("the field")}
_KINDS = {
    "text": lambda: _("text"), "a whole number": lambda: _("a whole number"), "a number": lambda: _("a number"),
    "true or false": lambda: _("true or false"), "true/false": lambda: _("true or false"),
    "a list": lambda: _("a list"), "an object ({...})": lambda: _("an object ({...})"),
    "an object": lambda: _("an object ({...})"), "null": lambda: _("null"),
}
_NOUNS = "|".join(sorted(map(re.escape, _SUBJECT_NOUNS), key=len, reverse=True))


def subject(text: str) -> str:
    """A path said in words ("the 'label' of field 'amount'"), in the reader's language."""
    text = text[:1].lower() + text[1:]
    match = re.fullmatch(r"the (\w+)", text)
    if match and match.group(1) in _WHOLE:
        return _WHOLE[match.group(1)]()
    match = re.fullmatch(rf"the ({Q}) of (.+)", text)
    if match:
        return _("%(whole)s: %(part)s", whole=subject(match.group(2)), part=match.group(1))
    match = re.fullmatch(rf"({_NOUNS}) (\d+) of (.+)", text)
    if match:
        return _("%(whole)s: %(noun)s %(number)s", whole=subject(match.group(3)),
                 noun=_SUBJECT_NOUNS[match.group(1)](), number=match.group(2))
    match = re.fullmatch(rf"({_NOUNS}) ({Q})", text)
    if match:
        return _("%(noun)s %(key)s", noun=_SUBJECT_NOUNS[match.group(1)](), key=match.group(2))
    return text


def _mean(text: str | None) -> str:
    match = re.fullmatch(rf" \(did you mean ({Q})\?\)", text or "")
    return _(" (did you mean %(word)s?)", word=match.group(1)) if match else ""


def _kinds(text: str) -> str:
    return _(" or ").join(_KINDS[k]() if k in _KINDS else k for k in text.split(" or "))


def _found(text: str) -> str:
    return _("the end") if text == "the end" else text


#: What a formula does wrong, as formulas.FormulaError and expression_checks.py word it after "it" / "The
#: formula of field 'x'" (the sentence's subject is said by whoever shows it); the common shapes only.
FORMULA_SHAPES: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [(re.compile(p, re.S), say) for p, say in [
    (r"has a syntax error near the end", lambda m: _("has a syntax error near the end")),
    (r"has a syntax error at column (?P<n>\d+)", lambda m: _("has a syntax error at column %(column)s", column=m["n"])),
    (rf"has a syntax error at column (?P<n>\d+): expected (?P<e>{Q}), found (?P<f>{Q}|the end)",
     lambda m: _("has a syntax error at column %(column)s: expected %(expected)s, found %(found)s", column=m["n"],
                 expected=m["e"], found=_found(m["f"]))),
    (rf"has a syntax error at column (?P<n>\d+): expected a value, found (?P<f>{Q}|the end)",
     lambda m: _("has a syntax error at column %(column)s: expected a value, found %(found)s", column=m["n"],
                 found=_found(m["f"]))),
    (r"is empty", lambda m: _("is empty")),
    (rf"uses (?P<k>{Q}), which is not a field of this entity(?P<m> \(did you mean {Q}\?\))?",
     lambda m: _("uses %(key)s, which is not a field of this entity%(mean)s", key=m["k"], mean=_mean(m["m"]))),
]]


def formula_problem(text: str) -> str:
    """A formula's problem ("has a syntax error near the end") in the reader's language when its
    shape is known; as written otherwise."""
    if lang() != "en":
        for pattern, say in FORMULA_SHAPES:
            match = pattern.fullmatch(text)
            if match:
                return say(match)
    return text


def _formula_sentence(m: re.Match) -> str | None:
    said = formula_problem(m["p"])
    return _("The formula of field %(key)s %(problem)s.", key=m["k"], problem=said) if said != m["p"] else None


#: (pattern, what to say): each pattern is one sentence shape of schema_check.py / app_checks.py / drafts.py
SHAPES: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [(re.compile(p, re.S), say) for p, say in [
    (rf"(?P<s>.+) is missing the required key (?P<k>{Q})\.",
     lambda m: _("%(what)s is missing the required key %(key)s.", what=subject(m["s"]), key=m["k"])),
    (rf"(?P<s>.+) has an unknown key (?P<k>{Q})(?P<m> \(did you mean {Q}\?\))? \(allowed here: (?P<a>.*)\)\.",
     lambda m: _("%(what)s has an unknown key %(key)s%(mean)s (allowed here: %(allowed)s).", what=subject(m["s"]),
                 key=m["k"], mean=_mean(m["m"]), allowed=m["a"])),
    (rf"(?P<s>.+) has the key (?P<k>{Q}), which a (?:[\w -]+) of type (?P<t>{Q}) cannot have"
     rf"(?P<m> \(did you mean {Q}\?\))? \(allowed here: (?P<a>.*)\)\.",
     lambda m: _("%(what)s has the key %(key)s, which the type %(type)s does not take%(mean)s (allowed here: "
                 "%(allowed)s).", what=subject(m["s"]), key=m["k"], type=m["t"], mean=_mean(m["m"]),
                 allowed=m["a"])),
    (rf"(?P<v>.+) is not a known (?:[\w -]+) type(?P<m> \(did you mean {Q}\?\))? \(choose one of: (?P<c>.*)\)\.",
     lambda m: _("%(value)s is not a known type%(mean)s (choose one of: %(choices)s).", value=m["v"],
                 mean=_mean(m["m"]), choices=m["c"])),
    (r"(?P<s>.+) is (?P<v>.+), which is not one of the allowed values \((?P<c>.*)\)\.",
     lambda m: _("%(what)s is %(value)s, which is not one of the allowed values (%(choices)s).",
                 what=subject(m["s"]), value=m["v"], choices=m["c"])),
    (r"(?P<s>.+) must be (?P<w>.+), not (?P<k>text|a whole number|a number|true/false|a list|an object|null)\.",
     lambda m: _("%(what)s must be %(wanted)s, not %(kind)s.", what=subject(m["s"]), wanted=_kinds(m["w"]),
                 kind=_kinds(m["k"]))),
    (r"(?P<s>.+) must not be empty\.", lambda m: _("%(what)s must not be empty.", what=subject(m["s"]))),
    (r"(?P<s>.+) is longer than (?P<n>\d+) characters\.",
     lambda m: _("%(what)s is longer than %(num)s characters.", what=subject(m["s"]), num=m["n"])),
    (r"(?P<s>.+) needs at least one language \(for example \{\"en\": \"\.\.\.\"\}\)\.",
     lambda m: _("%(what)s needs at least one language (for example {\"en\": \"...\"}).", what=subject(m["s"]))),
    (rf"(?P<v>{Q}) is not a valid key: a key uses lowercase letters, digits and underscores, starts with a letter "
     rf"and has at most 63 characters(?: \(for example (?P<e>{Q})\))?\.",
     lambda m: _("%(value)s is not a valid key: a key uses lowercase letters, digits and underscores, starts with "
                 "a letter and has at most 63 characters.", value=m["v"])
     + (_(" For example %(key)s.", key=m["e"]) if m["e"] else "")),
    (rf"Entity key (?P<k>{Q}) is used twice \(entities (?P<a>\d+) and (?P<b>\d+)\)\.",
     lambda m: _("Entity key %(key)s is used twice (entities %(first)s and %(second)s).", key=m["k"], first=m["a"],
                 second=m["b"])),
    (rf"Field key (?P<k>{Q}) is used twice in (?P<o>.+) \(fields (?P<a>\d+) and (?P<b>\d+)\); each field needs its "
     r"own key\.",
     lambda m: _("Field key %(key)s is used twice in %(owner)s (fields %(first)s and %(second)s); each field needs "
                 "its own key.", key=m["k"], owner=subject(m["o"]), first=m["a"], second=m["b"])),
    (rf"Field (?P<k>{Q}) lists the option (?P<v>{Q}) twice \(options (?P<a>\d+) and (?P<b>\d+)\)\.",
     lambda m: _("Field %(key)s lists the option %(value)s twice (options %(first)s and %(second)s).", key=m["k"],
                 value=m["v"], first=m["a"], second=m["b"])),
    (rf"The title field (?P<k>{Q}) is not a field of entity (?P<e>{Q})(?P<m> \(did you mean {Q}\?\))?\.",
     lambda m: _("The title field %(key)s is not a field of entity %(entity)s%(mean)s.", key=m["k"],
                 entity=m["e"], mean=_mean(m["m"]))),
    (rf"The list column (?P<k>{Q}) is not a field of entity (?P<e>{Q})(?P<m> \(did you mean {Q}\?\))?\.",
     lambda m: _("The list column %(key)s is not a field of entity %(entity)s%(mean)s.", key=m["k"],
                 entity=m["e"], mean=_mean(m["m"]))),
    (rf"Field (?P<k>{Q}) refers to the entity (?P<e>{Q})(?P<m> \(did you mean {Q}\?\))?, which this app does "
     r"not have\.",
     lambda m: _("Field %(key)s refers to the entity %(entity)s%(mean)s, which this app does not have.",
                 key=m["k"], entity=m["e"], mean=_mean(m["m"]))),
    (rf"The formula of field (?P<k>{Q}) (?P<p>.+)\.", _formula_sentence),
    (rf"The key (?P<k>{Q}) belongs to an archived field whose values are kept; restore that field, or give this "
     r"one another key\.",
     lambda m: _("The key %(key)s belongs to an archived field whose values are kept; restore that field, or give "
                 "this one another key.", key=m["k"])),
    (rf"(?P<pre>.*?)\bthe role (?P<r>{Q})(?P<m> \(did you mean {Q}\?\))?(?P<post>.*)which is not one of the app's "
     r"roles\.",
     lambda m: _("%(where)s names the role %(role)s, which is not one of the app's roles%(mean)s.",
                 where=", ".join(re.findall(Q, m["pre"])) or _("The app"), role=m["r"], mean=_mean(m["m"]))),
]]


#: what a rollup does with the field it reads (definitions/rollup_checks.py), in the reader's language
_ROLLUP_VERBS = {"sum": lambda: _("sum"), "take the minimum of": lambda: _("take the minimum of"),
                 "take the maximum of": lambda: _("take the maximum of"), "take the latest": lambda: _("take the latest")}
_VERB = "|".join(map(re.escape, _ROLLUP_VERBS))

#: the sentences of definitions/rollup_checks.py
SHAPES += [(re.compile(p, re.S), say) for p, say in [
    (rf"Rollup (?P<k>{Q}) reads the entity (?P<e>{Q})(?P<m> \(did you mean {Q}\?\))?, which this app does not have\.",
     lambda m: _("Rollup %(key)s reads the entity %(entity)s%(mean)s, which this app does not have.", key=m["k"],
                 entity=m["e"], mean=_mean(m["m"]))),
    (rf"Rollup (?P<k>{Q}) goes through (?P<v>{Q}), which is not a field of entity (?P<e>{Q})"
     rf"(?P<m> \(did you mean {Q}\?\))?\.",
     lambda m: _("Rollup %(key)s goes through %(via)s, which is not a field of entity %(entity)s%(mean)s.",
                 key=m["k"], via=m["v"], entity=m["e"], mean=_mean(m["m"]))),
    (rf"Rollup (?P<k>{Q}) goes through (?P<s>\w+)\.(?P<v>\w+), which is not a single reference to entity "
     rf"(?P<h>{Q}); choose a reference field of {Q} that points at {Q}\.",
     lambda m: _("Rollup %(key)s goes through %(source)s.%(via)s, which is not a single reference to entity "
                 "%(here)s; choose a reference field of %(source)s that points at %(here)s.", key=m["k"],
                 source=m["s"], via=m["v"], here=m["h"])),
    (rf"Rollup (?P<k>{Q}) needs a 'field' of entity (?P<e>{Q}) to (?P<w>{_VERB})\.",
     lambda m: _("Rollup %(key)s needs a 'field' of entity %(entity)s to %(verb)s.", key=m["k"], entity=m["e"],
                 verb=_ROLLUP_VERBS[m["w"]]())),
    (rf"Rollup (?P<k>{Q}) reads (?P<f>{Q}), which is not a field of entity (?P<e>{Q})(?P<m> \(did you mean {Q}\?\))?\.",
     lambda m: _("Rollup %(key)s reads %(field)s, which is not a field of entity %(entity)s%(mean)s.", key=m["k"],
                 field=m["f"], entity=m["e"], mean=_mean(m["m"]))),
    (rf"Rollup (?P<k>{Q}) cannot (?P<w>{_VERB}) (?P<f>{Q}), a (?P<t>\w+) field; it works on (?P<l>[\w, ]+) fields\.",
     lambda m: _("Rollup %(key)s cannot %(verb)s %(field)s, a %(type)s field; it works on %(types)s fields.",
                 key=m["k"], verb=_ROLLUP_VERBS[m["w"]](), field=m["f"], type=m["t"], types=m["l"])),
    (rf"The condition of rollup (?P<k>{Q}) uses (?P<n>{Q}); a rollup's condition can only use the related "
     r"entity's fields\.",
     lambda m: _("The condition of rollup %(key)s uses %(name)s; a rollup's condition can only use the related "
                 "entity's fields.", key=m["k"], name=m["n"])),
    (rf"The window of rollup (?P<k>{Q}) is measured on (?P<f>{Q}), which is not a field of entity (?P<e>{Q})"
     rf"(?P<m> \(did you mean {Q}\?\))?\.",
     lambda m: _("The window of rollup %(key)s is measured on %(field)s, which is not a field of entity "
                 "%(entity)s%(mean)s.", key=m["k"], field=m["f"], entity=m["e"], mean=_mean(m["m"]))),
    (rf"The window of rollup (?P<k>{Q}) is measured on (?P<f>{Q}), a (?P<t>\w+) field; choose a date or date-time "
     r"field\.",
     lambda m: _("The window of rollup %(key)s is measured on %(field)s, a %(type)s field; choose a date or "
                 "date-time field.", key=m["k"], field=m["f"], type=m["t"])),
]]


def problem_message(message: str) -> str:
    """`message` in the reader's language when its shape is known; as written otherwise."""
    if lang() == "en":
        return message
    for pattern, say in SHAPES:
        match = pattern.fullmatch(message)
        said = say(match) if match else None
        if said:
            return said
    return message


def in_reader_language(problems: list[Problem]) -> list[Problem]:
    return [dataclasses.replace(p, message=problem_message(p.message)) for p in problems]
