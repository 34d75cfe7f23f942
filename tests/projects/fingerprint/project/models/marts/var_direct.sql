select '{{ var("fp_region") }}' as region
