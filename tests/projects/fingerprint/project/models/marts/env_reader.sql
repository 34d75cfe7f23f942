select '{{ env_var("FP_COLOR", "blue") }}' as color
