select '{{ target.name }}' as target_name
