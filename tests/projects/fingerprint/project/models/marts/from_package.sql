select {{ fp_pkg.fp_pkg_double('2') }} as doubled
