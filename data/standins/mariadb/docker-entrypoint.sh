#!/bin/bash
# First start: create the data directory, set the root password, create the database and user
# named by MYSQL_* variables, run /docker-entrypoint-initdb.d/*, all on a server that listens
# on no network (so health checks fail until the real server starts). Later starts: just run.
set -euo pipefail

log() { printf '[entrypoint] %s\n' "$*"; }

# VAR_FILE (Docker/Compose secrets) wins over VAR.
for name in MYSQL_ROOT_PASSWORD MYSQL_DATABASE MYSQL_USER MYSQL_PASSWORD; do
  file_var="${name}_FILE"
  if [ -n "${!file_var:-}" ]; then
    export "$name"="$(cat "${!file_var}")"
  fi
done

if [ "${1:0:1}" = '-' ]; then
  set -- mariadbd "$@"
fi

sql_string() {  # quote a value as an SQL string literal
  local value=${1//\\/\\\\}
  printf "'%s'" "${value//\'/\'\'}"
}

datadir=/var/lib/mysql
if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
  mkdir -p "$datadir" /run/mysqld
  chown -R mysql:mysql /run/mysqld
  chown mysql:mysql "$datadir"
  if [ ! -d "$datadir/mysql" ]; then
    if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] \
        && [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
      log "error: database is uninitialized and no root password was given."
      log "Set MYSQL_ROOT_PASSWORD (or MYSQL_ALLOW_EMPTY_PASSWORD=yes, MYSQL_RANDOM_ROOT_PASSWORD=yes)."
      exit 1
    fi
    if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
      MYSQL_ROOT_PASSWORD="$(head -c 18 /dev/urandom | base64)"
      log "generated root password: $MYSQL_ROOT_PASSWORD"
    fi
    log "initializing database files"
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
      --auth-root-authentication-method=normal >/dev/null
    mariadbd --user=mysql --datadir="$datadir" --skip-networking \
      --socket=/run/mysqld/init.sock &
    init_pid=$!
    client=(mariadb --protocol=socket --socket=/run/mysqld/init.sock -uroot)
    for _ in $(seq 60); do
      "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break
      sleep 1
    done
    root_pw=$(sql_string "${MYSQL_ROOT_PASSWORD:-}")
    {
      echo "SET @@SESSION.SQL_LOG_BIN=0;"
      echo "DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host NOT IN ('localhost'));"
      echo "ALTER USER 'root'@'localhost' IDENTIFIED BY ${root_pw};"
      echo "CREATE USER 'root'@'%' IDENTIFIED BY ${root_pw};"
      echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
      if [ -n "${MYSQL_DATABASE:-}" ]; then
        echo "CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE}\`;"
      fi
      if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
        echo "CREATE USER '${MYSQL_USER}'@'%' IDENTIFIED BY $(sql_string "$MYSQL_PASSWORD");"
        if [ -n "${MYSQL_DATABASE:-}" ]; then
          echo "GRANT ALL ON \`${MYSQL_DATABASE}\`.* TO '${MYSQL_USER}'@'%';"
        fi
      fi
      echo "FLUSH PRIVILEGES;"
    } | "${client[@]}"
    client+=("-p${MYSQL_ROOT_PASSWORD:-}")
    if [ -n "${MYSQL_DATABASE:-}" ]; then
      client+=("$MYSQL_DATABASE")
    fi
    for script in /docker-entrypoint-initdb.d/*; do
      case "$script" in
        *.sh)     log "running $script"; . "$script" ;;
        *.sql)    log "running $script"; "${client[@]}" < "$script" ;;
        *.sql.gz) log "running $script"; gunzip -c "$script" | "${client[@]}" ;;
        *)        [ -e "$script" ] && log "ignoring $script" ;;
      esac
    done
    kill "$init_pid"
    wait "$init_pid" || true
    log "initialization done; starting the server"
  fi
fi

exec "$@"
