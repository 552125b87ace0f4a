# shellcheck shell=bash
# Shared by scripts/services/garage-up (one node), garage-cluster-up and garage-cluster-node
# (three nodes): sourced, not run. Finds the garage binary, starts one node of a throwaway
# Garage on free loopback ports (the same ones again when a stopped node is started again),
# creates the tests' key and bucket, and stops a node.
#
# The caller sets `garage_script` (its name, for messages) before sourcing this file.

garage_script=${garage_script:-garage}
garage_bucket=guichet-test
garage_key_name=guichet-test
garage_region=garage
garage_services=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Sets `garage`: $GARAGE_BIN, else `garage` on PATH, else ~/.cargo/bin/garage.
garage_find_binary() {
  garage=${GARAGE_BIN:-}
  if [[ -z "$garage" ]]; then
    local candidate
    for candidate in "$(command -v garage || true)" \
      "$HOME/.cargo/bin/garage"; do
      if [[ -n "$candidate" && -x "$candidate" ]]; then
        garage=$candidate
        break
      fi
    done
  fi
  if [[ -z "$garage" || ! -x "$garage" ]]; then
    echo "$garage_script: no garage binary (set GARAGE_BIN, or build it once:" \
      "cargo install garage@2.5.0 --locked)" >&2
    exit 1
  fi
}

# Whether process PID runs: it exists and is not a zombie (an ended process stays one until
# its parent collects it). Enough for a node this script started: its pid is its own.
garage_running() {
  local state
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)
  [[ -n "$state" && "$state" != Z ]]
}

# Whether process PID runs and is a garage, for a pid read from a file: it may have been
# given to another process since. While a process replaces its program (`exec`), its command
# line reads empty for a moment: that counts as a garage, not as another process.
garage_alive() {
  garage_running "$1" || return 1
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true)
  [[ -z "$cmdline" || "$cmdline" == *garage* ]]
}

# The pid recorded in FILE, when that process runs; nothing otherwise.
garage_running_pid() {
  local pid
  pid=$(cat "$1" 2>/dev/null || true)
  if [[ -n "$pid" ]] && garage_alive "$pid"; then
    echo "$pid"
  fi
}

# Stops the processes PID...: SIGTERM to all, then SIGKILL to those still there after 5 s.
garage_stop() {
  local pid running=() alive=()
  for pid in "$@"; do
    if [[ -n "$pid" ]] && garage_alive "$pid" && kill "$pid" 2>/dev/null; then
      running+=("$pid")
    fi
  done
  for _ in $(seq 1 50); do
    alive=()
    for pid in "${running[@]-}"; do
      if [[ -n "$pid" ]] && garage_alive "$pid"; then
        alive+=("$pid")
      fi
    done
    [[ ${#alive[@]} -gt 0 ]] || return 0
    sleep 0.1
  done
  kill -9 "${alive[@]}" 2>/dev/null || true
}

# Says what failed with the end of the node's log, stops the node being started, and exits.
garage_fail() {
  echo "$garage_script: $1; see $node_log" >&2
  tail -n 20 "$node_log" >&2 || true
  if [[ -n "${node_pid:-}" ]]; then
    kill "$node_pid" 2>/dev/null || true
  fi
  exit 1
}

# Sets variable NAME to a free loopback port, none of those chosen before in this run.
garage_taken=()
garage_pick_port() {
  local port
  while :; do
    port=$("$garage_services/free-port")
    [[ " ${garage_taken[*]-} " == *" $port "* ]] || break
  done
  garage_taken+=("$port")
  printf -v "$1" '%s' "$port"
}

# The port of the API of SECTION (s3_api, admin) in the node configuration CONFIG.
garage_config_port() {
  sed -n "/^\[$2\]/,/^\[/s/^api_bind_addr = \"127.0.0.1:\([0-9]*\)\"/\1/p" "$1" | head -n 1
}

# Starts the node of NODE_DIR with the RPC secret of SECRET_FILE (made if absent, shared by
# the nodes of a cluster) and REPLICATION copies of everything, and waits for it to answer
# the command line and on its S3 port. Sets node_config, node_log, node_pid (also written to
# NODE_DIR/pid), node_s3_port and node_rpc_port. A node started again keeps its ports, as
# under a service manager: clients find it where it was. A new node that exits while it
# starts is started again on other ports, twice at most: a port free-port found free may be
# taken by another process before the node binds it. The node keeps no fsync: it is for
# tests only.
garage_node_start() {
  local node_dir=$1 secret_file=$2 replication=$3 node_admin_port fresh="" attempt
  mkdir -p "$node_dir"
  node_config="$node_dir/garage.toml"
  node_log="$node_dir/garage.log"
  node_pid=
  if [[ -f "$node_config" ]]; then
    node_s3_port=$(garage_config_port "$node_config" s3_api)
    node_admin_port=$(garage_config_port "$node_config" admin)
    node_rpc_port=$(sed -n 's/^rpc_bind_addr = "127.0.0.1:\([0-9]*\)"/\1/p' "$node_config")
  else
    fresh=1
  fi

  # The RPC secret and the node identity are kept across restarts.
  if [[ ! -f "$secret_file" ]]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' >"$secret_file")
  fi
  for attempt in 1 2 3; do
    if [[ -n "$fresh" ]]; then
      garage_pick_port node_s3_port
      garage_pick_port node_rpc_port
      garage_pick_port node_admin_port
    fi
    garage_write_config "$node_dir" "$secret_file" "$replication" "$node_admin_port"
    if garage_node_launch; then
      return 0
    fi
    [[ -n "$fresh" && $attempt -lt 3 ]] || garage_fail "the server $garage_exit"
    echo "$garage_script: the new node $garage_exit while starting (ports $node_s3_port," \
      "$node_rpc_port, $node_admin_port); starting it on other ports; its log:" >&2
    tail -n 5 "$node_log" >&2 || true
  done
}

# Writes the configuration of the node of NODE_DIR (see garage_node_start) to node_config,
# with the ports node_s3_port, node_rpc_port and ADMIN_PORT.
garage_write_config() {
  local node_dir=$1 secret_file=$2 replication=$3 admin_port=$4
  cat >"$node_config" <<EOF
metadata_dir = "$node_dir/meta"
data_dir = "$node_dir/data"
db_engine = "sqlite"
metadata_fsync = false
data_fsync = false
# Documents are PDF, JPEG, PNG, HEIC: compressed already. Compressing them again costs the
# node CPU for nothing (see docs/deployment.md).
compression_level = "none"

replication_factor = $replication
consistency_mode = "consistent"

rpc_bind_addr = "127.0.0.1:$node_rpc_port"
rpc_public_addr = "127.0.0.1:$node_rpc_port"
rpc_secret = "$(cat "$secret_file")"

[s3_api]
api_bind_addr = "127.0.0.1:$node_s3_port"
s3_region = "$garage_region"

[admin]
api_bind_addr = "127.0.0.1:$admin_port"
EOF
}

# Runs the server of node_config, and waits (10 s at most) until it answers the command line
# and its S3 API answers as Garage's does (an anonymous request is refused with an S3 XML
# error: anything else on that port is another process that took it after free-port chose
# it, and the node must not be reported ready). Fails when the server exits meanwhile, with
# garage_exit saying how ("exited with status N", "was killed by signal N"); the server that
# does not answer in time fails the script.
garage_node_launch() {
  RUST_LOG=${RUST_LOG:-warn} setsid "$garage" -c "$node_config" server >"$node_log" 2>&1 </dev/null &
  node_pid=$!
  echo "$node_pid" >"$(dirname "$node_config")/pid"

  local status=0
  for _ in $(seq 1 100); do
    if ! garage_running "$node_pid"; then
      wait "$node_pid" 2>/dev/null || status=$?
      if ((status > 128)); then
        garage_exit="was killed by signal $((status - 128))"
      else
        garage_exit="exited with status $status"
      fi
      return 1
    fi
    if "$garage" -c "$node_config" status >/dev/null 2>&1 &&
      [[ $(curl -s "http://127.0.0.1:$node_s3_port/" 2>/dev/null) == *'<Error>'* ]]; then
      return 0
    fi
    sleep 0.1
  done
  garage_fail "the server did not answer within 10 s"
}

# The full id (`HEX@ADDRESS`) of the node whose configuration is CONFIG.
garage_node_address() {
  "$garage" -c "$1" node id -q 2>/dev/null
}

# Through the node of CONFIG: the tests' key, written as `export` lines to CREDENTIALS, and
# the tests' bucket, which the key owns; the key may also create buckets. The layout must be
# applied.
garage_create_key_and_bucket() {
  local config=$1 credentials=$2 key_json
  g() { "$garage" -c "$config" "$@"; }
  key_json=$(g json-api CreateKey "{\"name\": \"$garage_key_name\"}") ||
    garage_fail "key creation failed"
  python3 -c '
import json, sys
key = json.loads(sys.argv[1])
print("export AWS_ACCESS_KEY_ID=" + key["accessKeyId"])
print("export AWS_SECRET_ACCESS_KEY=" + key["secretAccessKey"])
' "$key_json" >"$credentials.new" || garage_fail "unexpected key creation answer: $key_json"
  g bucket create "$garage_bucket" >/dev/null || garage_fail "bucket creation failed"
  g bucket allow --read --write --owner "$garage_bucket" --key "$garage_key_name" >/dev/null ||
    garage_fail "bucket permission failed"
  g key allow --create-bucket "$garage_key_name" >/dev/null || garage_fail "key permission failed"
  mv "$credentials.new" "$credentials"
}

# The nodes of a cluster made by garage-cluster-up: DIR/node1 .. DIR/node$garage_cluster_nodes,
# one RPC secret (DIR/rpc_secret), every object on every node.
garage_cluster_nodes=3

# Starts node N of the cluster in DIR (see garage_node_start for what it sets) and connects
# it to the other nodes that run.
garage_cluster_node_start() {
  local dir=$1 n=$2 other address
  garage_node_start "$dir/node$n" "$dir/rpc_secret" "$garage_cluster_nodes"
  for other in $(seq 1 "$garage_cluster_nodes"); do
    [[ $other != "$n" && -n "$(garage_running_pid "$dir/node$other/pid")" ]] || continue
    address=$(garage_node_address "$dir/node$other/garage.toml") ||
      garage_fail "no id for node $other"
    "$garage" -c "$node_config" node connect "$address" >/dev/null ||
      garage_fail "node $n cannot connect to node $other ($address)"
  done
}

# Waits (30 s at most) until the node of CONFIG sees the whole cluster: every node connected
# and, with WHAT=healthy, every partition on all its nodes (the layout applied everywhere).
garage_cluster_wait() {
  local config=$1 what=$2 health
  for _ in $(seq 1 300); do
    health=$("$garage" -c "$config" json-api GetClusterHealth 2>/dev/null || true)
    if python3 -c '
import json, sys
health = json.loads(sys.argv[1])
nodes, what = int(sys.argv[2]), sys.argv[3]
connected = health["connectedNodes"] >= nodes
ok = connected and (what == "connected" or (
    health["status"] == "healthy" and health["storageNodesUp"] >= nodes
    and health["partitionsAllOk"] == health["partitions"]))
sys.exit(0 if ok else 1)
' "$health" "$garage_cluster_nodes" "$what" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  garage_fail "the cluster is not $what after 30 s: $health"
}
