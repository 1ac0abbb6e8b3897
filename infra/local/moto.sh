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
  for _ in $(seq 1 100); do
    port_open "$port" && return 0
    kill -0 "$MOTO_PID" 2>/dev/null || { echo "moto exited during start-up" >&2; return 1; }
    sleep 0.1
  done
  echo "moto did not start on port $port" >&2
  return 1
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
