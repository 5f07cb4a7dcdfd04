#!/usr/bin/env bash
# Build blazer's images with no image registry: a Debian bookworm base made by debootstrap
# (Python 3.11, PostgreSQL 15, Redis: the database and broker containers run it too), and
# the blazer image on it (a venv with blazer and Flower, installed from the package index).
#   bash docker/build_images.sh            # base (cached) + blazer
#   EXTRAS=sim bash docker/build_images.sh # with an extra (ManiSkill needs a Vulkan driver too)
# Needs root, podman, buildah and debootstrap (Debian: apt-get install podman buildah
# debootstrap runc). Rootful podman here uses runc: crun cannot set rlimits on this kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOTFS=localhost/blazer-debian:rootfs
BASE=localhost/blazer-debian:bookworm
IMAGE=localhost/blazer:latest
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
EXTRAS="${EXTRAS:-}"
CA="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
export BUILDAH_RUNTIME=runc

if ! podman image exists "$ROOTFS"; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  echo "debootstrap: bookworm from $MIRROR (log: /tmp/blazer-debootstrap.log)"
  debootstrap --variant=minbase \
    --include=python3,python3-venv,ca-certificates,postgresql,redis-server,procps \
    bookworm "$root" "$MIRROR" > /tmp/blazer-debootstrap.log
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$ROOTFS" > /dev/null
  rm -rf "$root"
  trap - EXIT
fi

# the base: the database container's cluster, role and database, reachable from the other
# containers with the password (seconds; remade on every build)
ctr=$(buildah from "$ROOTFS")
buildah run "$ctr" -- bash -c "(pg_dropcluster 15 main 2> /dev/null || true) \
  && pg_createcluster --encoding UTF8 --locale C.UTF-8 15 main \
  && echo 'host all all 0.0.0.0/0 scram-sha-256' >> /etc/postgresql/15/main/pg_hba.conf \
  && pg_ctlcluster 15 main start \
  && (runuser -u postgres -- psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'blazer'\" | grep -q 1 \
      || runuser -u postgres -- psql -qc \"CREATE ROLE blazer LOGIN SUPERUSER PASSWORD 'blazer'\") \
  && (runuser -u postgres -- psql -lqt | grep -qw blazer || runuser -u postgres -- createdb -O blazer blazer) \
  && pg_ctlcluster 15 main stop" > /dev/null
buildah commit --quiet --rm "$ctr" "$BASE" > /dev/null

wheel_dir=$(mktemp -d)
.venv/bin/pip wheel --quiet --no-deps --wheel-dir "$wheel_dir" . 2> /tmp/blazer-wheel.log
ctr=$(buildah from "$BASE")
buildah copy "$ctr" "$wheel_dir" /tmp/wheels > /dev/null
# the wheel's own path: PyPI has an unrelated project named blazer
spec="/tmp/wheels/$(basename "$wheel_dir"/blazer-*.whl)"; [ -n "$EXTRAS" ] && spec="$spec[$EXTRAS]"
# the host's CA bundle for the install only (a network that inspects TLS signs with its own
# CA, which the host trusts and a fresh Debian does not); nothing of it stays in the image
buildah run --network host --volume "$CA:/tmp/host-ca.crt:ro" "$ctr" -- bash -c \
  "python3 -m venv /opt/blazer && PIP_CERT=/tmp/host-ca.crt /opt/blazer/bin/pip install \
    --quiet --disable-pip-version-check '$spec' flower \
    && mkdir -p /data && rm -rf /tmp/wheels /root/.cache"
buildah config --env PATH=/opt/blazer/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env BLAZER_DATA_DIR=/data --workingdir /data --cmd '["blazer", "worker"]' "$ctr"
buildah commit --quiet "$ctr" "$IMAGE" > /dev/null
buildah rm "$ctr" > /dev/null
rm -rf "$wheel_dir"
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'blazer' || true
