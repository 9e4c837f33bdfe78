#!/usr/bin/env bash
# Builds the two real applications of the applications tests and demo from
# Debian 12 packages (there is no Docker Hub here) and pushes them to the
# loopback registry:
#   REG/apps/mariadb:10.11   mariadb-server; its root password and the
#                            application's user come from secret files
#   REG/apps/wordpress:6.1   Debian's wordpress with apache2 and PHP's mysql
#                            module, served at / and at /wordpress/
# Each is a debootstrap --variant=minbase root (from this machine's apt
# mirror, scripts/apt-mirror.sh) with the packages added in a chroot, then
# `tar | docker import`. The base root and each image's root are cached as
# tarballs under CONTENEUR_TEST_CACHE (default /var/cache/conteneur-test):
# a second run only imports and pushes, or does nothing when the registry
# has the image already.
#
# Usage: images-apps.sh [REGISTRY]   (default localhost:5000)
set -euo pipefail
cd "$(dirname "$0")/.."
REG=${1:-localhost:5000}
CACHE=${CONTENEUR_TEST_CACHE:-/var/cache/conteneur-test}
# Bump when a recipe below changes: old tarballs are then not reused.
RECIPE=v1
BASE=$CACHE/bookworm-minbase-$RECIPE.tar

die() { echo "images-apps.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and chroot)"
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"

in_registry() {
  curl -fsS "http://${REG/localhost/127.0.0.1}/v2/$1/manifests/$2" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null 2>&1
}

mkdir -p "$CACHE"
WORK=$(mktemp -d)
cleanup() {
  for m in "$WORK"/*/proc; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
  rm -rf "$WORK"
}
trap cleanup EXIT

base() {
  [ -f "$BASE" ] && return 0
  local mirror; mirror=$(./scripts/apt-mirror.sh)
  echo >&2 "images-apps.sh: debootstrap --variant=minbase bookworm from $mirror (about a minute)"
  debootstrap --variant=minbase bookworm "$WORK/base" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed; its log is above"; }
  # Services are never started while packages install.
  printf '#!/bin/sh\nexit 101\n' >"$WORK/base/usr/sbin/policy-rc.d"
  chmod 755 "$WORK/base/usr/sbin/policy-rc.d"
  tar -C "$WORK/base" -cf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
  rm -rf "$WORK/base"
}

# root-of NAME PACKAGES...: the cached root of an image, built when missing.
root_of() {
  local name=$1; shift
  local tarball=$CACHE/app-$name-$RECIPE.tar
  if [ ! -f "$tarball" ]; then
    base
    local r=$WORK/$name
    mkdir -p "$r" && tar -C "$r" -xf "$BASE"
    mount -t proc proc "$r/proc"
    echo >&2 "images-apps.sh: installing $* for $name"
    chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
      sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $* && apt-get clean" \
      >"$WORK/$name-apt.log" 2>&1 ||
      { umount "$r/proc"; tail -20 "$WORK/$name-apt.log" >&2; die "apt-get install in the $name root failed; the log is above"; }
    umount "$r/proc"
    rm -rf "$r"/var/lib/apt/lists/* "$r"/usr/share/doc/* "$r"/usr/share/man/*
    "setup_$name" "$r"
    tar -C "$r" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$r"
  fi
  echo "$tarball"
}

setup_mariadb() {
  local r=$1
  # The entry point: first start initialises the data folder (a named
  # volume), creates the application's database and user from the secret
  # files, then runs the server in the foreground as mysql.
  cat >"$r/usr/local/bin/entrypoint" <<'SH'
#!/bin/sh
set -eu
secret() { # NAME: the content of $NAME_FILE, else $NAME
  eval f=\${${1}_FILE:-}
  if [ -n "$f" ]; then cat "$f"; else eval printf %s \"\${$1:-}\"; fi
}
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
if [ ! -d /var/lib/mysql/mysql ]; then
  chown -R mysql:mysql /var/lib/mysql
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
  db=${MARIADB_DATABASE:-app}; user=${MARIADB_USER:-app}
  pass=$(secret MARIADB_PASSWORD); root=$(secret MARIADB_ROOT_PASSWORD)
  [ -n "$pass" ] || { echo "entrypoint: MARIADB_PASSWORD(_FILE) is empty" >&2; exit 1; }
  q() { printf "%s" "$1" | sed "s/'/''/g"; }
  mariadbd --user=mysql --bootstrap --skip-networking <<SQL
FLUSH PRIVILEGES;
CREATE DATABASE IF NOT EXISTS \`$db\`;
CREATE USER IF NOT EXISTS '$(q "$user")'@'%' IDENTIFIED BY '$(q "$pass")';
GRANT ALL ON \`$db\`.* TO '$(q "$user")'@'%';
${root:+ALTER USER 'root'@'localhost' IDENTIFIED BY '$(q "$root")';}
FLUSH PRIVILEGES;
SQL
fi
exec mariadbd --user=mysql --bind-address=0.0.0.0 --skip-name-resolve
SH
  chmod 755 "$r/usr/local/bin/entrypoint"
  # The package's postinst made a data folder: the first start must see an
  # empty one (a fresh named volume) to create the application's user.
  rm -rf "$r"/var/lib/mysql/*
}

setup_wordpress() {
  local r=$1
  # Debian's wordpress reads /etc/wordpress/config-HOST.php; the entry
  # point writes config-default.php from the environment (the password from
  # its secret file) so any Host works behind the proxy.
  cat >"$r/usr/local/bin/entrypoint" <<'SH'
#!/bin/sh
set -eu
secret() {
  eval f=\${${1}_FILE:-}
  if [ -n "$f" ]; then cat "$f"; else eval printf %s \"\${$1:-}\"; fi
}
php_quote() { printf "%s" "$1" | sed "s/[\\\\']/\\\\&/g"; }
pass=$(secret WORDPRESS_DB_PASSWORD)
cat >/etc/wordpress/config-default.php <<PHP
<?php
define('DB_NAME', '$(php_quote "${WORDPRESS_DB_NAME:-wordpress}")');
define('DB_USER', '$(php_quote "${WORDPRESS_DB_USER:-wordpress}")');
define('DB_PASSWORD', '$(php_quote "$pass")');
define('DB_HOST', '$(php_quote "${WORDPRESS_DB_HOST:-db}")');
define('WP_CONTENT_DIR', '/var/lib/wordpress/wp-content');
\$table_prefix = 'wp_';
PHP
chown root:www-data /etc/wordpress/config-default.php
chmod 640 /etc/wordpress/config-default.php
set +u; . /etc/apache2/envvars; set -u
mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR" "$APACHE_LOG_DIR"
exec apache2 -DFOREGROUND
SH
  chmod 755 "$r/usr/local/bin/entrypoint"
  cat >"$r/etc/apache2/sites-available/000-default.conf" <<'CONF'
<VirtualHost *:80>
  DocumentRoot /usr/share/wordpress
  Alias /wordpress/wp-content /var/lib/wordpress/wp-content
  Alias /wordpress /usr/share/wordpress
  Alias /wp-content /var/lib/wordpress/wp-content
  <Directory /usr/share/wordpress>
    Options FollowSymLinks
    AllowOverride Limit Options FileInfo
    DirectoryIndex index.php
    Require all granted
  </Directory>
  <Directory /var/lib/wordpress/wp-content>
    Options FollowSymLinks
    Require all granted
  </Directory>
  ErrorLog /dev/stderr
  CustomLog /dev/stdout combined
</VirtualHost>
CONF
  chroot "$r" a2enmod -q rewrite >/dev/null
  # Logs to the container's output, not to files.
  sed -i 's#^ErrorLog .*#ErrorLog /dev/stderr#' "$r/etc/apache2/apache2.conf"
}

# image NAME TAG CMD PACKAGES...
image() {
  local name=$1 tag=$2 cmd=$3; shift 3
  in_registry "apps/$name" "$tag" && return 0
  local tarball; tarball=$(root_of "$name" "$@")
  docker import --change "CMD $cmd" --change 'WORKDIR /' "$tarball" "$REG/apps/$name:$tag" >/dev/null
  docker push "$REG/apps/$name:$tag" >/dev/null
  echo "images-apps.sh: built and pushed $REG/apps/$name:$tag"
}

image mariadb 10.11 '["/usr/local/bin/entrypoint"]' mariadb-server
image wordpress 6.1 '["/usr/local/bin/entrypoint"]' \
  wordpress wordpress-theme-twentytwentythree apache2 libapache2-mod-php php-mysql ca-certificates
