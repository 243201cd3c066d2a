"""`adapter` for sqlfluff's jinja templater (`make lint`): dbt's `adapter.dispatch` picks the
Postgres (`default__`) implementation of a macro, so lint reads the SQL Postgres runs."""

from jinja2 import pass_context


@pass_context
def dispatch(context, macro_name, macro_namespace=None):
    return context["default__" + macro_name]
