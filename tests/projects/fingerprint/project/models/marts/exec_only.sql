select 1 as one
{% if execute %}
    , {{ fp_exec_only_suffix() }} as suffix
{% endif %}
