"""The cross-database macros (macros/cross_db/) give the same answers on Postgres and Spark.

Every case is compiled by dbt for each target (one `dbt compile --inline` per engine) and
run on that engine; both must return the rows written here. A few cases check forms that
need no macro because both engines read them the same (interval literals, FILTER, bool_or).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from decimal import Decimal

import psycopg
import pytest

from tests.spark.conftest import dbt_in_process

DOC = json.dumps({
    "data": {"object": {"id": "sub_1", "n": 2, "ok": True, "none": None, "items": [1, 2], "dot.key": "d",
                        "tags": [{"name": "b"}, {"name": "a"}, {"name": "b"}], "empty": {}}},
    "type": "customer.subscription.created",
})

HEADER = (
    "{%- set doc_literal %}'" + DOC + "'{% endset -%}\n"
    "{%- set doc = to_json_value(doc_literal) -%}\n"
    "{%- set ts = cast_as(\"'2024-01-31T10:00:00Z'\", 'timestamp') -%}\n"
)

FIRST_BY_ROWS = """
with t as (
    select 'a' as k, 'p' as v, 1 as at union all
    select 'a', 'q', cast(null as int) union all
    select 'a', 'r', 3 union all
    select 'a', cast(null as {{ sql_type('text') }}), 2 union all
    select 'b', 'm', 5 union all
    select 'b', 'l', 5
)
"""

LETTERS = """
with t as (
    select 'a' as k, 'b' as v, 1 as n union all
    select 'a', 'a', 2 union all
    select 'b', 'b', 3 union all
    select 'b', cast(null as {{ sql_type('text') }}), 4
)
"""


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


# name -> (SQL template, expected rows, columns holding JSON)
CASES: dict[str, tuple[str, list[tuple], set[int]]] = {
    "json_get_text": (
        "select {{ json_get_text(doc, ['data', 'object', 'id']) }}, {{ json_get_text(doc, 'type') }},"
        " {{ json_get_text(doc, ['data', 'object', 'n']) }}, {{ json_get_text(doc, ['data', 'object', 'ok']) }},"
        " {{ json_get_text(doc, ['data', 'object', 'none']) }}, {{ json_get_text(doc, ['data', 'missing']) }},"
        " {{ json_get_text(doc, ['data', 'object', 'dot.key']) }}, {{ json_get_text(doc, ['data', 'object', 'items']) }}",
        [("sub_1", "customer.subscription.created", "2", "true", None, None, "d", [1, 2])],
        {7},
    ),
    "json_get": (
        "select {{ json_get_text(json_get(doc, ['data']), ['object', 'id']) }}, {{ json_get(doc, ['data', 'object', 'id']) }},"
        " {{ json_get(doc, ['data', 'object', 'empty']) }}, {{ json_get(doc, ['nope']) }}",
        [("sub_1", "sub_1", {}, None)],
        {1, 2, 3},
    ),
    "json_typeof": (
        "select {{ json_typeof(doc, ['data', 'object']) }}, {{ json_typeof(doc, ['data', 'object', 'items']) }},"
        " {{ json_typeof(doc, 'type') }}, {{ json_typeof(doc, ['data', 'object', 'n']) }},"
        " {{ json_typeof(doc, ['data', 'object', 'ok']) }}, {{ json_typeof(doc, ['data', 'object', 'none']) }},"
        " {{ json_typeof(doc, ['data', 'missing']) }}",
        [("object", "array", "string", "number", "boolean", "null", None)],
        set(),
    ),
    "json_array_elements": (
        "select count(*), {{ string_agg_distinct(json_get_text('items.item', 'name'), \"','\") }}"
        " from (select {{ doc }} as d) as s"
        " cross join lateral {{ json_array_elements(json_get('s.d', ['data', 'object', 'tags'])) }} as items (item)",
        [(3, "a,b")],
        set(),
    ),
    "json_array_elements_of_non_array": (
        "select count(*) from (select {{ doc }} as d) as s"
        " cross join lateral {{ json_array_elements(json_get('s.d', ['data', 'object', 'id'])) }} as items (item)",
        [(0,)],
        set(),
    ),
    "json_path_index": (
        "select {{ json_get_text(doc, ['data', 'object', 'items', 1]) }}, {{ json_get_text(doc, ['data', 'object', 'tags', 0, 'name']) }}",
        [("2", "b")],
        set(),
    ),
    "json_array_elements_ordered": (
        "select ordinal, {{ json_get_text('item', 'name') }} from (select {{ doc }} as d) as s"
        " cross join lateral {{ json_array_elements_ordered(json_get('s.d', ['data', 'object', 'tags'])) }} as elements (item, ordinal)"
        " order by ordinal",
        [(1, "b"), (2, "a"), (3, "b")],
        set(),
    ),
    "json_array_any": (
        "select {{ json_array_any(json_get(doc, ['data', 'object', 'tags']), 'e', json_get_text('e', 'name') ~ \" = 'a'\") }},"
        " {{ json_array_any(json_get(doc, ['data', 'object', 'tags']), 'e', json_get_text('e', 'name') ~ \" = 'z'\") }},"
        " {{ json_array_any(json_get(doc, ['data', 'object', 'tags']), 'e', json_get_text('e', 'missing') ~ \" = 'z'\") }},"
        " {{ json_array_any(json_get(doc, ['data', 'object', 'id']), 'e', 'true') }}",
        [(True, False, False, False)],
        set(),
    ),
    "json_name_value_object": (
        "select {{ json_name_value_object(to_json_value(\"'[{\\\"name\\\": \\\"a\\\", \\\"value\\\": \\\"1\\\"}, {\\\"name\\\": \\\"\\\", \\\"value\\\": \\\"x\\\"}, 5,"
        " {\\\"name\\\": \\\"a\\\", \\\"value\\\": \\\"2\\\"}, {\\\"name\\\": \\\"b\\\", \\\"value\\\": \\\"y\\\"}]'\")) }},"
        " {{ json_name_value_object(to_json_value(\"'[]'\")) }}",
        [({"a": "2", "b": "y"}, {})],
        {0, 1},
    ),
    "json_object": (
        "select {{ json_object([['a', '1'], ['b', typed_null('text')], ['c', \"'x'\"]]) }}, {{ json_empty_object() }}",
        [({"a": 1, "c": "x"}, {})],
        {0, 1},
    ),
    # Values Spark must be told about: a JSON value stays JSON (its nulls stripped at any depth,
    # a JSON null value too, as jsonb_strip_nulls does), an instant prints as jsonb prints a
    # timestamptz in UTC.
    "json_object_kinds": (
        r"""{% set inner -%}[{"k": null, "v": "a,\"b\":null"}, null]{%- endset -%}"""
        "{% set obj = json_object([['o', json_get(doc, ['data', 'object']), 'json'], ['n', typed_null('json'), 'json'],"
        " ['s', to_json_value(text_literal(inner)), 'json'], ['z', to_json_value(\"'null'\"), 'json'],"
        " ['t', ts, 'timestamp'], ['f', cast_as(\"'2024-01-31T10:00:00.25Z'\", 'timestamp'), 'timestamp']]) -%}"
        "select {{ obj }}, {{ json_get_text(obj, 't') }}, {{ json_get_text(obj, 'f') }}",
        [({"o": {"id": "sub_1", "n": 2, "ok": True, "items": [1, 2], "dot.key": "d",
                 "tags": [{"name": "b"}, {"name": "a"}, {"name": "b"}], "empty": {}},
           "s": [{"v": 'a,"b":null'}, None],
           "t": "2024-01-31T10:00:00+00:00", "f": "2024-01-31T10:00:00.25+00:00"},
          "2024-01-31T10:00:00+00:00", "2024-01-31T10:00:00.25+00:00")],
        {0},
    ),
    "casts": (
        "select {{ cast_as(\"'42'\", 'bigint') }}, {{ cast_as(\"'1.5'\", 'numeric') }}, {{ typed_null('timestamp') }},"
        " {{ cast_as('7', 'text') }}, {{ cast_as(\"'true'\", 'boolean') }}",
        [(42, 1.5, None, "7", True)],
        set(),
    ),
    "try_cast_as": (
        # Values come from a union so Postgres cannot fold a failing cast of a literal at plan time.
        "with t as (select 1 as i, '2024-01-02T03:04:05Z' as s union all select 2, 'not a date'"
        " union all select 3, '12.5' union all select 4, 'x' union all select 5, '9')"
        " select i, case when i in (1, 2) then {{ try_cast_as('s', 'timestamp') }} end,"
        " case when i in (3, 4) then {{ try_cast_as('s', 'numeric') }} end,"
        " case when i in (4, 5) then {{ try_cast_as('s', 'bigint') }} end from t order by i",
        [(1, ts("2024-01-02T03:04:05+00:00"), None, None), (2, None, None, None), (3, None, 12.5, None),
         (4, None, None, None), (5, None, None, 9)],
        set(),
    ),
    "add_interval": (
        "select {{ add_interval(ts, 3, 'hour') }}, {{ add_interval(ts, '-7', 'day') }}, {{ add_interval(ts, '1 + 1', 'month') }},"
        " {{ add_interval(ts, 90, 'second') }}",
        [(ts("2024-01-31T13:00:00+00:00"), ts("2024-01-24T10:00:00+00:00"), ts("2024-03-31T10:00:00+00:00"),
          ts("2024-01-31T10:01:30+00:00"))],
        set(),
    ),
    "interval_literals_are_portable": (
        "select {{ ts }} - interval '10 minutes', {{ ts }} + interval '7 days', {{ ts }} + interval '4 hours'",
        [(ts("2024-01-31T09:50:00+00:00"), ts("2024-02-07T10:00:00+00:00"), ts("2024-01-31T14:00:00+00:00"))],
        set(),
    ),
    "seconds_between": (
        "select {{ seconds_between(ts, ts ~ \" + interval '90 seconds'\") }}",
        [(90.0,)],
        set(),
    ),
    "epoch_to_timestamp": (
        "select {{ epoch_to_timestamp(\"'1795000000'\") }}, {{ epoch_to_timestamp(\"''\") }}, {{ epoch_to_timestamp('1795000000.5') }}",
        [(datetime.fromtimestamp(1795000000, timezone.utc), None, datetime.fromtimestamp(1795000000.5, timezone.utc))],
        set(),
    ),
    "min_timestamp": (
        "select {{ min_timestamp() }} < {{ ts }}, coalesce(max({{ ts }}), {{ min_timestamp() }}) < {{ ts }} from (select 1 as x) as one where 1 = 0",
        [(True, True)],
        set(),
    ),
    "latest_row_per_key": (
        FIRST_BY_ROWS + "select k, v from ({{ latest_row_per_key('t', 'k', 'at desc nulls last, v') }}) as latest order by k",
        [("a", "r"), ("b", "l")],
        set(),
    ),
    "first_by": (
        # Group b ties on `at`: only orderings with a tie-breaker are asked of it.
        FIRST_BY_ROWS + "select k,"
        " {{ first_by('v', 'at desc nulls last, v') }}, {{ first_by('v', ['at desc', 'v desc']) }},"
        " case when k = 'a' then {{ first_by('v', 'at') }} end, case when k = 'a' then {{ first_by('v', 'at desc') }} end,"
        " case when k = 'a' then {{ first_by('v', 'at nulls first') }} end,"
        " case when k = 'a' then {{ first_by('v', 'at desc nulls last', where=\"v <> 'r'\") }} end,"
        " {{ first_by('v', 'at', where='1 = 0') }}"
        " from t group by k order by k",
        [("a", "r", "q", "p", "q", "q", "p", None), ("b", "l", "m", None, None, None, None, None)],
        set(),
    ),
    "first_by_over_each_rows_own_array": (
        # A lateral aggregate per row, as stg_stripe__subscriptions reads each snapshot's items: a row
        # without the array gives nulls (Spark once failed there: element_at of no element).
        "select s.k, items.last_name, items.names"
        " from (select 1 as k, {{ doc }} as d union all select 2, {{ to_json_value(\"'{}'\") }}) as s"
        " left join lateral (select {{ first_by(json_get_text('item', 'name'), 'ordinal desc') }} as last_name, count(*) as names"
        " from {{ json_array_elements_ordered(json_get('s.d', ['data', 'object', 'tags'])) }} as elements (item, ordinal)) as items"
        " on true order by s.k",
        [(1, "b", 3), (2, None, 0)],
        set(),
    ),
    "array_aggregates": (
        LETTERS + "select {{ array_agg_distinct('v') }}, {{ string_agg_distinct('v', \"', '\") }}, {{ json_agg_distinct('v') }},"
        " {{ array_head(array_agg_distinct('v'), 1) }} from t where k = 'a' or v is null",
        [(["a", "b"], "a, b", ["a", "b"], ["a"])],
        {2},
    ),
    "json_object_agg": (
        LETTERS + "select {{ json_object_agg('k', 'n') }} from (select k, max(n) as n from t group by k) as per_k",
        [({"a": 2, "b": 4},)],
        {0},
    ),
    "array_aggregates_of_no_rows": (
        LETTERS + "select {{ array_agg_distinct('v') }}, {{ string_agg_distinct('v', \"', '\") }}, {{ json_agg_distinct('v') }}"
        " from t where 1 = 0",
        [([], None, [])],
        {2},
    ),
    "regexp": (
        "select {{ regexp_extract_group(\"'https://x.org/pricing?a=1'\", '^[a-z]+://[^/?#]+([^?#]*)') }},"
        " {{ regexp_extract_group(\"'no url'\", '^[a-z]+://[^/?#]+([^?#]*)') }},"
        " {{ regexp_extract_group(\"'id=42;'\", 'id=(\\d+)') }},"
        " {{ regexp_matches(\"'ada@x.org'\", '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$') }},"
        " {{ regexp_matches(\"'ada@x'\", '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$') }}",
        [("/pricing", None, "42", True, False)],
        set(),
    ),
    "hashing": (
        "select {{ md5_hex(\"'gdp:1'\") }}, {{ sha256_hex(\"'ada@x.org'\") }}, {{ md5_hex('42') }}",
        [(hashlib.md5(b"gdp:1").hexdigest(), hashlib.sha256(b"ada@x.org").hexdigest(), hashlib.md5(b"42").hexdigest())],
        set(),
    ),
    "portable_forms": (
        LETTERS + "select bool_or(n > 3), bool_and(n > 3), count(*) filter (where n > 1), min(n) filter (where k = 'b'),"
        " split_part('a:b:c', ':', 2), max(case when v is distinct from 'b' then 1 else 0 end),"
        " 'x' || cast(max(n) as {{ sql_type('text') }}), greatest(1, 3, 2), trim('  t  '), lower('AB') from t",
        [(True, False, 3, 3, "b", 1, "x4", 3, "t", "ab")],
        set(),
    ),
    # macros/cross_db/persons.sql (the person marts, deal, the segments)
    "json_empty_array": (
        "select {{ json_empty_array() }}",
        [([],)],
        {0},
    ),
    "array_merge_distinct_and_join": (
        LETTERS + "select merged.k, {{ array_to_json('merged.tags') }}, {{ array_join_nonempty('merged.tags', \"', '\") }}"
        " from (select k, {{ array_merge_distinct(array_agg_distinct('v'), array_agg_distinct(\"case when n = 1 then 'c' end\")) }}"
        " as tags from t group by k) as merged order by merged.k",
        [("a", ["a", "b", "c"], "a, b, c"), ("b", ["b"], "b")],
        {1},
    ),
    "array_merge_distinct_of_nothing": (
        LETTERS + "select {{ array_join_nonempty(array_merge_distinct(array_agg_distinct('v'), 'null'), \"', '\") }},"
        " {{ array_to_json(array_merge_distinct(array_agg_distinct('v'), 'null')) }} from t where 1 = 0",
        [(None, [])],
        {1},
    ),
    "lateral_joins_are_portable": (
        LETTERS + "select keys.k, counted.c, firsts.n from (select distinct k from t) as keys"
        " cross join lateral (select count(*) as c from t as u where u.k = keys.k) as counted"
        " left join lateral (select min(n) as n from t as u where u.k = keys.k and u.v is not null) as firsts on true"
        " order by keys.k",
        [("a", 2, 1), ("b", 2, 3)],
        set(),
    ),
    # macros/cross_db/identity.sql
    "format_utc_timestamp": (
        "select {{ format_utc_timestamp(cast_as(\"'2024-01-31T10:00:05.5Z'\", 'timestamp')) }}",
        [("2024-01-31 10:00:05",)],
        set(),
    ),
    "json_agg_top": (
        "with t as (select 'a' as v, 1 as n union all select 'c', 3 union all select 'b', 3 union all select 'd', 2)"
        " select {{ json_agg_top('v', ['n desc', 'v asc'], 3) }}, {{ json_agg_top('v', 'n asc', 2) }} from t",
        [(["b", "c", "d"], ["a", "d"])],
        {0, 1},
    ),
    "cte_not_materialized": (
        "with t as {{ cte_not_materialized() }} (select 1 as x)"
        " select count(*) from (select x from t union all select x from t) as u",
        [(2,)],
        set(),
    ),
    # The identity models match key prefixes with LIKE and an escaped underscore.
    "like_escaped_underscore_is_portable": (
        r"select 'posthog_distinct_id:x' like 'posthog\_distinct\_id:%', 'posthogXdistinct_id:x' like 'posthog\_distinct\_id:%'",
        [(True, False)],
        set(),
    ),
}


def compiled_cases(target: str, env: dict[str, str], target_path) -> dict[str, str]:
    """Every case compiled for `target` in one dbt invocation, split back by name."""
    marker = "-- gdp-case: "
    inline = HEADER + "\n".join(f"{marker}{name}\n{template}" for name, (template, _, _) in CASES.items())
    result = dbt_in_process(["compile", "--inline", inline, "--quiet"], target, env, target_path)
    compiled = result.result.results[0].node.compiled_code
    out = {}
    for chunk in compiled.split(marker)[1:]:
        name, _, body = chunk.partition("\n")
        out[name.strip()] = body.strip()
    assert set(out) == set(CASES)
    return out


def normalize(value, is_json: bool):
    """Spark hands JSON back as text, Postgres (jsonb) as Python values."""
    if is_json and isinstance(value, str) and value[:1] in ("{", "[", '"'):
        value = json.loads(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        # Spark returns naive datetimes in its UTC session zone; Postgres aware ones.
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if isinstance(value, list):
        return [normalize(v, False) for v in value]
    return value


def normalized_rows(rows, json_columns: set[int]) -> list[tuple]:
    return [tuple(normalize(v, i in json_columns) for i, v in enumerate(row)) for row in rows]


@pytest.fixture(scope="module")
def postgres_sql(postgres_dbt_env, tmp_path_factory):
    return compiled_cases("default", postgres_dbt_env, tmp_path_factory.mktemp("dbt_pg"))


@pytest.fixture(scope="module")
def spark_sql(spark_dbt_env, tmp_path_factory):
    return compiled_cases("spark", spark_dbt_env, tmp_path_factory.mktemp("dbt_spark"))


@pytest.mark.parametrize("name", list(CASES))
def test_macro_on_postgres(name, postgres_sql, database_url):
    _, expected, json_columns = CASES[name]
    with psycopg.connect(database_url) as conn:
        conn.execute("set time zone 'UTC'")
        rows = conn.execute(postgres_sql[name]).fetchall()
    assert normalized_rows(rows, json_columns) == expected, postgres_sql[name]


@pytest.mark.parametrize("name", list(CASES))
def test_macro_on_spark(name, spark_sql, spark):
    _, expected, json_columns = CASES[name]
    rows = [tuple(row) for row in spark.sql(spark_sql[name]).collect()]
    assert normalized_rows(rows, json_columns) == expected, spark_sql[name]
