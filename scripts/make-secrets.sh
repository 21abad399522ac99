#!/usr/bin/env bash
# Creates the secrets docker-compose.yml mounts, in ./secrets/ (never committed):
#
#   secrets/shuangshi_ledger_password   random password of the ledger database (PostgreSQL, workers)
#   secrets/shuangshi_portal_secret     random key of the progress links' tokens (workers, portal)
#   secrets/seals/<owner>.key, .pub     one Ed25519 seal key pair per town and district department
#
# Nothing existing is replaced: the password and the portal secret are kept, and only owners without
# keys get new ones (`shuangshi seal keygen --only-missing`), so running it again after a catalog
# change adds new owners (and, on an older ./secrets/, the portal secret).
#
# The worker container runs as uid 10001 and reads these files through bind mounts, which keep the
# host's owner and mode; the key store refuses a private key that group or others may read. So the
# files end up owned by 10001:10001, mode 0400 (folder 0500). That needs root: started as another
# user, the script runs itself again through sudo. --no-chown skips that step.
#
# Usage: scripts/make-secrets.sh [--dir DIR] [--no-chown] [--shuangshi COMMAND]
#   --shuangshi  the command that makes the keys (default: $SHUANGSHI, .venv/bin/shuangshi,
#                `shuangshi` on PATH, else the workers image built by `docker compose build workers`)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

container_uid=10001
container_gid=10001
dir=secrets
chown_files=1
shuangshi="${SHUANGSHI:-}"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --no-chown) chown_files=0; shift ;;
    --shuangshi) shuangshi="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$chown_files" = 1 ] && [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "giving the files to uid $container_uid needs root: run this as root, or pass --no-chown" >&2
    exit 1
  fi
  echo "giving the files to the container user (uid $container_uid) needs root: running again with sudo"
  again=("$root/scripts/make-secrets.sh" --dir "$dir")
  if [ -n "$shuangshi" ]; then
    again+=(--shuangshi "$(command -v "$shuangshi" || echo "$shuangshi")")
  fi
  exec sudo "${again[@]}"
fi

umask 077
mkdir -p "$dir"
chmod 0700 "$dir"
dir="$(cd "$dir" && pwd)"

# --- the ledger password ---------------------------------------------------------------------------
password_file="$dir/shuangshi_ledger_password"
if [ -e "$password_file" ]; then
  echo "kept    $password_file"
else
  # 40 characters of [A-Za-z0-9]: safe in a database URL without escaping. No trailing newline.
  password="$(head -c 48 /dev/urandom | base64 | tr -d '+/=\n' | cut -c1-40)"
  printf '%s' "$password" > "$password_file"
  unset password
  chmod 0400 "$password_file"
  echo "created $password_file"
fi

# --- the portal secret -----------------------------------------------------------------------------
portal_secret_file="$dir/shuangshi_portal_secret"
if [ -e "$portal_secret_file" ]; then
  echo "kept    $portal_secret_file"
else
  # 64 url-safe base64 characters (48 random bytes) signing the progress links' tokens; the portal
  # wants at least 32. No trailing newline.
  portal_secret="$(head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  printf '%s' "$portal_secret" > "$portal_secret_file"
  unset portal_secret
  chmod 0400 "$portal_secret_file"
  echo "created $portal_secret_file"
fi

# --- the seal keys ---------------------------------------------------------------------------------
seals="$dir/seals"
mkdir -p "$seals"
chmod 0700 "$seals"
if [ -z "$shuangshi" ]; then
  if [ -x "$root/.venv/bin/shuangshi" ]; then
    shuangshi="$root/.venv/bin/shuangshi"
  elif command -v shuangshi >/dev/null 2>&1; then
    shuangshi="$(command -v shuangshi)"
  fi
fi
if [ -n "$shuangshi" ]; then
  "$shuangshi" seal keygen --only-missing "$seals"
elif command -v docker >/dev/null 2>&1; then
  tag="$(sed -n 's/^SHUANGSHI_IMAGE_TAG=//p' "$root/.env")"
  docker compose build workers
  docker run --rm --user "$(id -u):$(id -g)" --volume "$seals:/keys" \
    "shuangshi-workers:$tag" seal keygen --only-missing /keys
else
  echo "no shuangshi command: run scripts/bootstrap.sh (or install Docker) and try again" >&2
  exit 1
fi

# --- owner: the container user ---------------------------------------------------------------------
if [ "$chown_files" = 0 ]; then
  echo "not changed owner: the containers (uid $container_uid) read these only if they belong to it"
  exit 0
fi
chown -R "$container_uid:$container_gid" "$password_file" "$portal_secret_file" "$seals"
chmod 0500 "$seals"
echo "owner   $container_uid:$container_gid (the container user) of the secrets in $dir"
