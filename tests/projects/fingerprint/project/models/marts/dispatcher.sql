-- The dispatched call runs only at execution time: parsing records no macro for it.
select
{% if execute %}
    {{ fp_fmt("'abc'") }}
{% else %}
    null
{% endif %} as formatted
