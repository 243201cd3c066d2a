{#- Generic test: every non-null person id is in `to` (person), unless it belongs to a
    forgotten person (int_privacy__forgotten_persons), whom person leaves out on purpose
    while other marts may still hold their rows (an account still in auth.users, say). -#}
{% test known_person(model, column_name, to, forgotten) %}
    select child.{{ column_name }}
    from {{ model }} as child
    where child.{{ column_name }} is not null
        and not exists (select 1 from {{ to }} as parent where parent.person_id = child.{{ column_name }})
        and not exists (select 1 from {{ forgotten }} as gone where gone.person_id = child.{{ column_name }})
{% endtest %}
