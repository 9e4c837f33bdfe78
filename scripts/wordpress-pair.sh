# Sourced (not run) by scripts/demo.sh and scripts/bench-apps.sh: the
# WordPress + MariaDB application of tests/apps.rs and docs/applications.md,
# as an admin configures it with CreoleSet. The caller defines C (conteneur
# with its --root) and has set nombre_conteneur high enough.
#
# wordpress_pair WP_INDEX DB_INDEX DB_NAME VOLUME WP_PORT SECRET
#   WordPress (container WP_INDEX, named wordpress: its image serves under
#   /wordpress/) published on 127.0.0.1:WP_PORT behind nginx, on network wp,
#   after DB_NAME; MariaDB (container DB_INDEX, named DB_NAME) on wp only (no
#   host port, no route), its data in the named volume VOLUME, an
#   in-container health check; their shared password the secret SECRET,
#   generated at the first instance and given to both as /run/secrets/SECRET.
wordpress_pair() {
  local w=$1 d=$2 db=$3 volume=$4 port=$5 secret=$6
  C set conteneur_secret_name "$secret"
  C set "conteneur${d}_name" "$db"
  C set "conteneur${d}_url" localhost:5000/apps/mariadb
  C set "conteneur${d}_tag" 10.11
  C set "conteneur${d}_networks" wp
  C set "conteneur${d}_mountpoint_in" /var/lib/mysql
  C set "conteneur${d}_mountpoint_out" "$volume"
  C set "conteneur${d}_secrets" "$secret"
  C set "conteneur${d}_env" MARIADB_DATABASE=wordpress MARIADB_USER=wordpress \
    "MARIADB_PASSWORD_FILE=/run/secrets/$secret"
  C set "conteneur${d}_health_command" 'mysqladmin ping --silent'
  C set "conteneur${d}_health_interval" 1
  # The first start initialises the database: failed checks do not count
  # yet (compose, running the exported file, gives up on an unhealthy
  # dependency; conteneur waits until conteneur_health_timeout anyway).
  C set "conteneur${d}_health_start_period" 120
  C set "conteneur${w}_name" wordpress
  C set "conteneur${w}_url" localhost:5000/apps/wordpress
  C set "conteneur${w}_tag" 6.1
  C set "conteneur${w}_port_in" 80
  C set "conteneur${w}_port_out" "$port"
  C set "conteneur${w}_keep_path" oui
  # Healthy only when WordPress reaches its database: PHP opens the
  # connection with WordPress's own settings (a static file would answer
  # while every page says "Database Error", e.g. after a secret changed that
  # the database, initialised with the old value, still refuses).
  C set "conteneur${w}_health_command" \
    "php -r \"include '/etc/wordpress/config-default.php'; mysqli_report(MYSQLI_REPORT_OFF); exit(@mysqli_connect(DB_HOST, DB_USER, DB_PASSWORD, DB_NAME) ? 0 : 1);\""
  C set "conteneur${w}_health_interval" 1
  C set "conteneur${w}_networks" wp
  C set "conteneur${w}_depends_on" "$db"
  C set "conteneur${w}_secrets" "$secret"
  C set "conteneur${w}_env" "WORDPRESS_DB_HOST=$db" WORDPRESS_DB_NAME=wordpress \
    WORDPRESS_DB_USER=wordpress "WORDPRESS_DB_PASSWORD_FILE=/run/secrets/$secret"
}
