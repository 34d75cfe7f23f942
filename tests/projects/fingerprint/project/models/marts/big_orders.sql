select id, amount from {{ ref('eph_big_orders') }}
