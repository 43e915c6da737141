# A two-node Slurm cluster on this machine for tests: slurmctld and munged in the root
# namespaces, and two slurmd ("node1", "node2"), each in a network and UTS namespace of its own
# with its own hostname and a link-local address on a veth link into a bridge that this
# creates. Traffic goes only to the addresses of this cluster (169.254.N.1 for slurmctld,
# .11 and .12 for the nodes). The nodes share the file system (run directories, munge socket)
# and /dev/shm: they are separate hosts for Slurm and MPI, not for the kernel.
# Sourced by tests/slurm/two_nodes_test.sh:
#   source tests/slurm/two_nodes.sh
#   two_nodes_start DIR        # exports SLURM_CONF; one clear error when a step fails
#   two_nodes_exec NODE cmd... # runs cmd inside NODE's namespaces (as a process of that host)
#   two_nodes_kill_node NODE   # SIGKILL to every process of NODE (its slurmd, steps, ranks)
#   two_nodes_stop             # stops the daemons, deletes namespaces, links and the bridge
# Runs as root. Needs ip (iproute2), unshare (util-linux), munge, slurm-wlm.

two_nodes_log() { echo "two-nodes: $*" >&2; }

two_nodes_dump_logs() {
  local f
  for f in "$TWO_NODES_DIR"/log/*.log "$TWO_NODES_DIR"/log/*.out; do
    [ -s "$f" ] || continue
    echo "---- $f (last 15 lines)" >&2
    tail -n 15 "$f" >&2
  done
}

# Namespace, link and bridge names: unique per test process, short (interface names have at
# most 15 characters), with a prefix that says who made them.
two_nodes_names() {
  local id=$1
  TWO_NODES_ID=$id
  TWO_NODES_BRIDGE=crbr$id
  TWO_NODES_NS=(crnode1-$id crnode2-$id)
  TWO_NODES_VETH=(crv1-$id crv2-$id)
  TWO_NODES_NODES=(node1 node2)
}

two_nodes_exec() {
  local node=$1 i
  shift
  for i in 0 1; do
    if [ "${TWO_NODES_NODES[$i]}" = "$node" ]; then
      # A new UTS namespace per command would forget the hostname: enter the one the node's
      # slurmd lives in (nsenter --uts on its pid), inside the node's network namespace.
      local pid
      pid=$(cat "$TWO_NODES_DIR/run/slurmd-$node.pid" 2>/dev/null)
      nsenter --net="/run/netns/${TWO_NODES_NS[$i]}" --uts --target "$pid" "$@"
      return
    fi
  done
  two_nodes_log "no node '$node'"
  return 2
}

# Checks that this kernel lets us make network and UTS namespaces, with one clear message.
two_nodes_check_kernel() {
  local probe=crprobe$TWO_NODES_ID err
  if ! err=$(ip netns add "$probe" 2>&1); then
    two_nodes_log "the kernel refused a network namespace ('ip netns add': $err); the two-node test needs root and CLONE_NEWNET (a container without CAP_SYS_ADMIN cannot run it)"
    return 1
  fi
  if ! err=$(nsenter --net="/run/netns/$probe" unshare --uts sh -c 'hostname crprobe && ip link set lo up' 2>&1); then
    ip netns del "$probe" 2>/dev/null
    two_nodes_log "the kernel refused a UTS namespace or a link inside a network namespace: $err"
    return 1
  fi
  ip netns del "$probe"
}

# Namespaces and bridges of an earlier run whose test process is gone (killed with SIGKILL, as
# a test runner's timeout does, so its trap never ran): named crnode1-PID, crnode2-PID and
# crbrPID by this file, so nothing else is touched.
two_nodes_remove_stale() {
  local ns id
  for ns in $(ip netns list 2>/dev/null | grep -o '^crnode[12]-[0-9]*'); do
    id=${ns#crnode?-}
    kill -0 "$id" 2>/dev/null && continue
    two_nodes_log "removing $ns, left by test process $id which is gone"
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    ip link del "crbr$id" 2>/dev/null
  done
  for id in $(ip -o link show type bridge 2>/dev/null | grep -o ' crbr[0-9]*:' | tr -d ' crb:'); do
    kill -0 "$id" 2>/dev/null || ip link del "crbr$id" 2>/dev/null
  done
}

two_nodes_start() {
  TWO_NODES_DIR=$1
  local d=$TWO_NODES_DIR
  two_nodes_names "${TWO_NODES_ID:-$$}"
  two_nodes_remove_stale
  mkdir -p "$d/log" "$d/state" "$d/spool" "$d/munge" "$d/run"
  local missing=() tool
  for tool in ip nsenter unshare munged slurmctld slurmd sbatch squeue scontrol sinfo srun; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    two_nodes_log "cannot start the two-node cluster: missing ${missing[*]} (iproute2, util-linux, munge, slurm-wlm: scripts/setup.sh)"
    return 1
  fi
  if [ "$(id -u)" != 0 ]; then
    two_nodes_log "the two-node cluster needs root (network namespaces, SlurmdUser=root)"
    return 1
  fi
  two_nodes_check_kernel || return 1

  # A /24 of 169.254.0.0/16 that no interface of this machine uses yet.
  local net n
  for n in $(seq 100 199); do
    if [ -z "$(ip -4 -o addr show to "169.254.$n.0/24" 2>/dev/null)" ]; then net=169.254.$n; break; fi
  done
  [ -n "${net:-}" ] || { two_nodes_log "no free 169.254.N.0/24 subnet"; return 1; }
  TWO_NODES_NET=$net
  TWO_NODES_ADDR=("$net.11" "$net.12")
  local err
  # The bridge plays the switch; slurmctld listens on its address in the root namespace.
  if ! err=$( { ip link add "$TWO_NODES_BRIDGE" type bridge &&
                ip addr add "$net.1/24" dev "$TWO_NODES_BRIDGE" &&
                ip link set "$TWO_NODES_BRIDGE" up; } 2>&1); then
    two_nodes_log "could not create the bridge $TWO_NODES_BRIDGE: $err"
    return 1
  fi
  local i
  for i in 0 1; do
    if ! err=$( { ip netns add "${TWO_NODES_NS[$i]}" &&
                  ip link add "${TWO_NODES_VETH[$i]}" type veth peer name eth0 netns "${TWO_NODES_NS[$i]}" &&
                  ip link set "${TWO_NODES_VETH[$i]}" master "$TWO_NODES_BRIDGE" &&
                  ip link set "${TWO_NODES_VETH[$i]}" up &&
                  ip -n "${TWO_NODES_NS[$i]}" addr add "${TWO_NODES_ADDR[$i]}/24" dev eth0 &&
                  ip -n "${TWO_NODES_NS[$i]}" link set eth0 up &&
                  ip -n "${TWO_NODES_NS[$i]}" link set lo up; } 2>&1); then
      two_nodes_log "could not set up ${TWO_NODES_NODES[$i]} (namespace ${TWO_NODES_NS[$i]}): $err"
      return 1
    fi
  done

  # One munged and one key for the whole cluster: its socket is a file, reachable from every
  # network namespace (they share the mount namespace).
  chmod 711 "$d/munge"
  mungekey --create --keyfile="$d/munge/munge.key" --force >/dev/null 2>&1 ||
    dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 2>/dev/null
  chmod 600 "$d/munge/munge.key"
  if ! munged --force --socket="$d/munge/munge.socket" --key-file="$d/munge/munge.key" \
       --pid-file="$d/munge/munged.pid" --log-file="$d/log/munged.log" \
       --seed-file="$d/munge/munge.seed" >"$d/log/munged.out" 2>&1; then
    two_nodes_log "munged did not start: $(cat "$d/log/munged.out" "$d/log/munged.log" 2>/dev/null | tail -n 5)"
    return 1
  fi
  local cpus mem
  cpus=$(getconf _NPROCESSORS_ONLN)  # each "node" sees every core of this machine
  mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.4)}' /proc/meminfo)
  # TmpFS per node: the PMIx plugin makes its client directories under it, with names that
  # would collide between the two "nodes" in one shared /tmp.
  # SlurmctldHost=localhost(ADDR): slurmctld accepts "localhost" as its own name and every
  # client reaches it at the bridge address. Short Slurmd/MessageTimeout so that a dead node
  # is declared down within the bound the test asserts.
  cat >"$d/slurm.conf" <<CONF
ClusterName=crometwo
SlurmctldHost=localhost($net.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket,cred_expire=10
SlurmctldPort=$TWO_NODES_CTLD_PORT
SlurmdPort=$TWO_NODES_D_PORT
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
TmpFS=$d/tmp/%n
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=0
KillWait=5
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=15
MessageTimeout=5
InactiveLimit=0
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=node1 NodeAddr=${TWO_NODES_ADDR[0]} NodeHostname=node1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
NodeName=node2 NodeAddr=${TWO_NODES_ADDR[1]} NodeHostname=node2 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=node1,node2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  export SLURM_CONF=$d/slurm.conf
  if ! slurmctld -f "$SLURM_CONF" >"$d/log/slurmctld.out" 2>&1; then
    two_nodes_log "slurmctld did not start: $(tail -n 5 "$d/log/slurmctld.out" "$d/log/slurmctld.log" 2>/dev/null)"
    return 1
  fi
  for i in 0 1; do
    two_nodes_start_slurmd "${TWO_NODES_NODES[$i]}" || return 1
  done
  two_nodes_wait_idle 2 60 || return 1
  two_nodes_log "up: node1 ${TWO_NODES_ADDR[0]}, node2 ${TWO_NODES_ADDR[1]} (namespaces ${TWO_NODES_NS[*]}, bridge $TWO_NODES_BRIDGE $net.1), $cpus CPUs each, conf $SLURM_CONF"
}

# Starts NODE's slurmd in NODE's network namespace and a new UTS namespace named after it.
two_nodes_start_slurmd() {
  local node=$1 i ns d=$TWO_NODES_DIR
  for i in 0 1; do [ "${TWO_NODES_NODES[$i]}" = "$node" ] && ns=${TWO_NODES_NS[$i]}; done
  mkdir -p "$d/spool/$node" "$d/tmp/$node"
  # nsenter, not `ip netns exec`: that one also makes a mount namespace with a fresh /sys, in
  # which slurmd finds no /sys/fs/cgroup and refuses to start.
  if ! nsenter --net="/run/netns/$ns" unshare --uts sh -c 'hostname "$1" && exec slurmd -f "$2" -N "$1"' \
       sh "$node" "$SLURM_CONF" >>"$d/log/slurmd-$node.out" 2>&1; then
    two_nodes_log "slurmd of $node did not start: $(tail -n 5 "$d/log/slurmd-$node.out" "$d/log/slurmd-$node.log" 2>/dev/null)"
    return 1
  fi
}

# Waits until N nodes are idle (LIMIT seconds at most).
two_nodes_wait_idle() {
  local want=$1 limit=$2 states deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    states=$(timeout 5 sinfo -h -N -o '%N=%T' 2>/dev/null | sort | tr '\n' ' ')
    [ "$(grep -o '=idle' <<<"$states" | wc -l)" -ge "$want" ] && return 0
    sleep 1
  done
  two_nodes_log "$want node(s) never became idle within $limit s (states: '${states:-none}')"
  two_nodes_dump_logs
  return 1
}

two_nodes_kill_node() {
  local node=$1 i
  for i in 0 1; do
    if [ "${TWO_NODES_NODES[$i]}" = "$node" ]; then
      # Everything running in the node's network namespace: slurmd, slurmstepd, the ranks.
      ip netns pids "${TWO_NODES_NS[$i]}" | xargs -r kill -9
      return
    fi
  done
}

two_nodes_stop() {
  local d=${TWO_NODES_DIR:-}
  [ -n "$d" ] || return 0
  local i pid pids
  # Every process left in a node's namespaces (slurmd, its steps, ranks): that node's only.
  for i in 0 1; do
    ip netns pids "${TWO_NODES_NS[$i]}" 2>/dev/null | xargs -r kill -TERM 2>/dev/null
  done
  for pid in $(cat "$d/run/slurmctld.pid" 2>/dev/null); do
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null
  done
  sleep 1
  for i in 0 1; do
    pids=$(ip netns pids "${TWO_NODES_NS[$i]}" 2>/dev/null)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  done
  [ -f "$d/munge/munged.pid" ] && kill "$(cat "$d/munge/munged.pid")" 2>/dev/null
  for i in 0 1; do ip netns del "${TWO_NODES_NS[$i]}" 2>/dev/null; done
  # Deleting a namespace deletes its veth end and so the pair; the bridge goes by itself.
  ip link del "${TWO_NODES_VETH[0]}" 2>/dev/null
  ip link del "${TWO_NODES_VETH[1]}" 2>/dev/null
  ip link del "$TWO_NODES_BRIDGE" 2>/dev/null
  TWO_NODES_DIR=
}

# What two_nodes_stop must leave: no namespace, link or daemon of this cluster. Prints what is
# left; fails if anything is.
two_nodes_leftovers() {
  local left=""
  ip netns list 2>/dev/null | grep -q "crnode[12]-$TWO_NODES_ID\b" && left+=" namespaces:$(ip netns list | grep "crnode[12]-$TWO_NODES_ID" | tr '\n' ' ')"
  ip link show "$TWO_NODES_BRIDGE" >/dev/null 2>&1 && left+=" bridge:$TWO_NODES_BRIDGE"
  ip link show "${TWO_NODES_VETH[0]}" >/dev/null 2>&1 && left+=" link:${TWO_NODES_VETH[0]}"
  ip link show "${TWO_NODES_VETH[1]}" >/dev/null 2>&1 && left+=" link:${TWO_NODES_VETH[1]}"
  local p
  for p in $(pgrep -x slurmd; pgrep -x slurmctld; pgrep -x slurmstepd; pgrep -x munged); do
    grep -qa -- "$1" "/proc/$p/cmdline" 2>/dev/null && left+=" process:$p($(tr '\0' ' ' <"/proc/$p/cmdline"))"
  done
  [ -z "$left" ] || { echo "$left"; return 1; }
}

if [ -z "${TWO_NODES_CTLD_PORT:-}" ] || [ -z "${TWO_NODES_D_PORT:-}" ]; then
  read -r TWO_NODES_CTLD_PORT TWO_NODES_D_PORT < <(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
fi
