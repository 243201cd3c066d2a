"""The membership ledger: the step between dbt segments and activation (who entered, who left, once)."""
