-- fp_shade's value is itself Jinja that reads an env var.
select '{{ var("fp_shade") }}' as shade
