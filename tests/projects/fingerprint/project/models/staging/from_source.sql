select * from {{ source('landing', 'events') }}
