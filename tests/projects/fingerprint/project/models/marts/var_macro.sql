select 1 as one where {{ fp_region_filter() }}
