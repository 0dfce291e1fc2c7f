"""`adapters.base.nuxt_state`: Nuxt 2's devalue expression and Nuxt 3's flattened array, read
without running JavaScript (the forms as devalue writes them: github.com/Rich-Harris/devalue)."""

from __future__ import annotations

import math

import pytest

from adapters.base import nuxt_state


def page(script: str) -> str:
    return f"<html><body><div id='__nuxt'></div><script>{script}</script></body></html>"


def test_nuxt2_plain_object_literal():
    state = nuxt_state(page('window.__NUXT__={layout:"default",data:[{a:1,"b-c":[true,false,'
                            "null]}],serverRendered:true};"))
    assert state == {"layout": "default", "data": [{"a": 1, "b-c": [True, False, None]}],
                     "serverRendered": True}


def test_nuxt2_iife_binds_parameters_to_arguments():
    script = ('window.__NUXT__=(function(a,b,c,do_){return {data:[{id:a,n:b,same:a}],'
              'state:{c:c,d:do_}}}("x-1",.5,-0,void 0));')
    state = nuxt_state(page(script))
    assert state["data"] == [{"id": "x-1", "n": 0.5, "same": "x-1"}]
    assert math.copysign(1, state["state"]["c"]) == -1 and state["state"]["d"] is None


def test_nuxt2_statements_fill_repeated_objects_before_the_return():
    script = ('window.__NUXT__=(function(a,b,c,d){a[0]="ai";a[1]=b;c.k=a;c["x y"]=1;'
              'd.add("p").add(b);return {tags:a,again:a,obj:c,set:d}}'
              '(Array(2),"ml",{},new Set));')
    state = nuxt_state(page(script))
    assert state["tags"] == ["ai", "ml"] and state["again"] is state["tags"]
    assert state["obj"] == {"k": ["ai", "ml"], "x y": 1}
    assert state["set"] == ["p", "ml"]


def test_nuxt2_the_other_iife_form_and_special_values():
    script = ('window.__NUXT__=(function(a){return {when:new Date(0),m:new Map([["k",a]]),'
              'o:Object.assign(Object.create(null),{z:a}),e:Object.create(null),'
              'sparse:[1,,3],inf:Infinity,neg:-Infinity,re:/a[/]b/g}})(2);')
    state = nuxt_state(page(script))
    assert state["when"] == "1970-01-01T00:00:00Z"
    assert state["m"] == {"k": 2} and state["o"] == {"z": 2} and state["e"] == {}
    assert state["sparse"] == [1, None, 3]
    assert state["inf"] == math.inf and state["neg"] == -math.inf and state["re"] == "/a[/]b/g"


def test_nuxt2_string_escapes_as_devalue_writes_them():
    script = ('window.__NUXT__={s:"\\u003Cb\\u003E \\"q\\" \\\\ \\n\\t\\u2028 \\u002F '
              '\\uD83D\\uDE00 \\x41",t:\'single\'};')
    state = nuxt_state(page(script))
    assert state["s"] == '<b> "q" \\ \n\t\u2028 / \U0001f600 A'
    assert state["t"] == "single"


def test_nuxt3_flattened_array_with_references_and_types():
    data = ('[{"data":1,"state":5,"once":9,"path":12},["ShallowReactive",2],'
            '{"podcast-x":3},{"title":4,"u":-1,"nan":-3,"inf":-4,"ninf":-5,"nz":-6},"T",'
            '["Reactive",6],{"when":7,"m":8,"title":4,"o":10,"big":11},'
            '["Date","2026-05-29T08:15:00.000Z"],["Map",4,13],["Set",4],["null","a",13],'
            '["BigInt","12"],"/no/shows/x",[4,-2,4]]')
    state = nuxt_state(f'<script type="application/json" id="__NUXT_DATA__" '
                       f'data-ssr="true">{data}</script>')
    page_data = state["data"]["podcast-x"]
    assert page_data["title"] == "T" and page_data["u"] is None
    assert math.isnan(page_data["nan"]) and page_data["inf"] == math.inf
    assert page_data["ninf"] == -math.inf and math.copysign(1, page_data["nz"]) == -1
    assert state["state"] == {"when": "2026-05-29T08:15:00.000Z", "m": {"T": ["T", None, "T"]},
                              "title": "T", "o": {"a": ["T", None, "T"]}, "big": 12}
    assert state["once"] == ["T"] and state["path"] == "/no/shows/x"
    # A shared value is one object, as devalue's references mean.
    assert state["state"]["m"]["T"] is state["state"]["o"]["a"]


@pytest.mark.parametrize("html", [
    "<html><body>no state</body></html>",
    page("window.__NUXT__=(function(a){return {x:b}}(1));"),  # an unbound name
    page("window.__NUXT__=(function(a){return {x:a}}(1)"),  # cut short
    page("window.__NUXT__=fetchState();"),  # code, not a value
    '<script type="application/json" id="__NUXT_DATA__">[["Weird",0]]</script>',
])
def test_unreadable_or_missing_state_is_none(html):
    assert nuxt_state(html) is None
