{#- The persons an incremental person-level rollup (models/intermediate/persons/) recomputes,
    as a select of person_id; every row it writes keeps the marks the next build starts from:
    events_seen_before (newest event received_at), identity_seen_at (newest
    int_privacy__identity_hashes change), auth_events_seen (auth.users rows in event: they
    have no arrival time) and, for the clock rollups, computed_as_of_at.
      1. persons with events received after the last build's newest (events_seen_before), or
         from that newest minus var event_lookback on when the rows in that lookback are no
         longer the number the build saw (events_in_lookback: a late commit), and every
         auth.users person when that count changed;
      2. persons whose identifiers moved (new identifiers, merges, late identification: the
         events that re-resolve follow their identity_key): the new and the previous person;
      3. `crossings` [(event types, days)]: persons with such an event leaving its window as
         the clock moved from the last build's as_of to this one's, read from event's
         (event_type, occurred_at) index; every person when the clock moved back.
    The full build (not incremental) takes every person with an event. -#}
{% macro changed_persons(crossings=none) -%}
{%- set lookback = "interval '" ~ var('event_lookback') ~ "'" -%}
{%- if not is_incremental() -%}
select distinct person_id from {{ ref('event') }} where person_id is not null
{%- else -%}
select events.person_id from {{ ref('event') }} as events
where events.person_id is not null
    and events.received_at > coalesce((
        select
            case
                when count(*) = max(marks.events_in_lookback) then max(marks.events_seen_before)
                else max(marks.events_seen_before) - {{ lookback }} - interval '1 second'
            end
        from {{ ref('event') }} as seen
        inner join (
            select
                previous.events_seen_before,
                previous.events_in_lookback
            from {{ this }} as previous
            order by previous.events_seen_before desc
            limit 1
        ) as marks on seen.received_at between marks.events_seen_before - {{ lookback }} and marks.events_seen_before
    ), {{ min_timestamp() }})
union
select events.person_id from {{ ref('event') }} as events
where events.person_id is not null
    and events.raw_table = 'auth.users'
    and (select count(*) from {{ ref('event') }} as auth_events where auth_events.raw_table = 'auth.users')
    <> coalesce((select max(previous.auth_events_seen) from {{ this }} as previous), -1)
union
select known_hashes.person_id from {{ ref('int_privacy__identity_hashes') }} as known_hashes
where known_hashes.changed_at > coalesce((select max(previous.identity_seen_at) from {{ this }} as previous), {{ min_timestamp() }})
union
select known_hashes.previous_person_id from {{ ref('int_privacy__identity_hashes') }} as known_hashes
where known_hashes.previous_person_id is not null
    and known_hashes.changed_at > coalesce((select max(previous.identity_seen_at) from {{ this }} as previous), {{ min_timestamp() }})
{%- if crossings %}
union
select events.person_id from {{ ref('event') }} as events
where events.person_id is not null
    and (
        {%- for types, days in crossings %}
            (events.event_type in ({% for t in types %}{{ text_literal(t) }}{% if not loop.last %}, {% endif %}{% endfor %})
                and events.occurred_at > coalesce((select max(previous.computed_as_of_at) from {{ this }} as previous), {{ min_timestamp() }}) - interval '{{ days }} days'
                and events.occurred_at <= {{ as_of() }} - interval '{{ days }} days')
            {%- if not loop.last %} or{% endif %}
        {%- endfor %}
    )
union
select events.person_id from {{ ref('event') }} as events
where events.person_id is not null
    and coalesce((select max(previous.computed_as_of_at) from {{ this }} as previous), {{ min_timestamp() }}) > {{ as_of() }}
{%- endif %}
{%- endif %}
{%- endmacro %}


{#- The marks columns of a rollup row (see changed_persons). -#}
{% macro changed_persons_marks() -%}
{%- set lookback = "interval '" ~ var('event_lookback') ~ "'" -%}
coalesce((select max(marks.received_at) from {{ ref('event') }} as marks), {{ min_timestamp() }}) as events_seen_before,
(
    select count(*) from {{ ref('event') }} as marks
    where marks.received_at >= (select max(newest.received_at) from {{ ref('event') }} as newest) - {{ lookback }}
) as events_in_lookback,
coalesce((select max(marks.changed_at) from {{ ref('int_privacy__identity_hashes') }} as marks), {{ min_timestamp() }}) as identity_seen_at,
(select count(*) from {{ ref('event') }} as marks where marks.raw_table = 'auth.users') as auth_events_seen
{%- endmacro %}


{#- int_persons__profile's own marks (beside changed_persons_marks): the newest identity
    rewrite, Stripe arrival, lead arrival and app-account update when the row was written.
    Read from the sources' indexed columns, so a mark costs a lookup. -#}
{% macro profile_marks() -%}
coalesce((select max(marks.written_at) from {{ ref('int_identity__resolved') }} as marks), {{ min_timestamp() }}) as identity_written_before,
coalesce((select max(marks.received_at) from {{ source('stripe', 'stripe_event') }} as marks), {{ min_timestamp() }}) as customers_seen_before,
coalesce((select max(marks.received_at) from {{ source('deals', 'lead') }} as marks), {{ min_timestamp() }}) as leads_seen_before,
coalesce((select max(marks.updated_at) from {{ ref('stg_auth__users') }} as marks), {{ min_timestamp() }}) as users_updated_before,
current_timestamp as marks_taken_at
{%- endmacro %}


{#- One of profile_marks as the last build left it (the oldest possible when there is none). -#}
{% macro profile_mark(column) -%}
coalesce((select max(previous.{{ column }}) from {{ this }} as previous), {{ min_timestamp() }})
{%- endmacro %}


{#- Where a build reads a source from by one of profile_marks: after the mark, and from the last
    build's time minus var event_lookback when that is earlier (a row stamped before the mark
    may commit up to the lookback later), so a source that went quiet is not re-read. -#}
{% macro profile_since(column) -%}
{%- set lookback = "interval '" ~ var('event_lookback') ~ "'" -%}
least({{ profile_mark(column) }}, {{ profile_mark('marks_taken_at') }} - {{ lookback }})
{%- endmacro %}
