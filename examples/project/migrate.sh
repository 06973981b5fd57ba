#!/bin/sh
# The `migrate` task: creates the database and its table on the port the
# `db` service was leased ($DB_PORT), and the first rows. Running it again
# changes nothing.
set -eu
psql() { command psql -h 127.0.0.1 -p "$DB_PORT" -U shop -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ -z "$(psql -d postgres -c "select 1 from pg_database where datname = 'shop'")" ]; then
  psql -d postgres -c "create database shop"
fi
psql -d shop <<'SQL'
create table if not exists products (id serial primary key, name text unique not null, price_cents int not null);
insert into products (name, price_cents) values ('teapot', 1800), ('kettle', 2900)
  on conflict (name) do nothing;
SQL
echo "migrate: $(psql -d shop -c 'select count(*) from products') products in shop on port $DB_PORT"
