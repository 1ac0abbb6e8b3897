# Sourced. start_moto starts moto's server on 127.0.0.1:$MOTO_PORT as a child of the calling shell, sets
# MOTO_PID and returns once it answers. It refuses a port already in use, so that nothing ever runs
# against a stranger's state.

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_moto() {
  local port="${MOTO_PORT:?}"
  if port_open "$port"; then
    echo "port $port is already in use; set MOTO_PORT to a free port" >&2
    return 1
  fi
  infra/local/moto-server -H 127.0.0.1 -p "$port" >"${MOTO_LOG:-/dev/null}" 2>&1 &
  MOTO_PID=$!
  wait_for_start "$MOTO_PID" "$port" moto
}

# wait_for_start PID PORT NAME [LOG]: returns once PORT answers; fails (printing LOG, if given) when the
# process exits first or the port stays closed for 10 s.
wait_for_start() {
  local pid=$1 port=$2 name=$3 log=${4:-}
  for _ in $(seq 1 100); do
    port_open "$port" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      [[ -z $log ]] || cat "$log" >&2
      echo "$name exited during start-up" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$name did not start on port $port" >&2
  return 1
}

# A TCP port free on 127.0.0.1 now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Stops the given processes: TERM, up to 3 s to exit, then KILL (moto's server can hang on shutdown
# while a client keeps a connection open).
stop_processes() {
  kill "$@" 2>/dev/null || true
  for _ in $(seq 1 30); do
    local alive=0 pid
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  kill -9 "$@" 2>/dev/null || true
}
