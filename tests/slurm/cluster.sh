# A one-node Slurm cluster on localhost for tests, in a folder of its own: munged with its
# own key and socket, slurmctld and slurmd with a slurm.conf written here. Sourced by the
# Slurm tests:
#   source tests/slurm/cluster.sh
#   slurm_cluster_start DIR     # exports SLURM_CONF; fails loudly when a daemon won't start
#   ...sbatch/squeue/sacct...
#   slurm_cluster_stop          # stops only the daemons this started (by their pid files)
# Runs as root (SlurmUser=root, SlurmdUser=root), as CI does.

slurm_cluster_log() { echo "slurm-cluster: $*" >&2; }

# Prints the last lines of each daemon log: what a failure report needs.
slurm_cluster_dump_logs() {
  local f
  for f in "$SLURM_CLUSTER_DIR"/log/*.log; do
    [ -f "$f" ] || continue
    echo "---- $f (last 15 lines)" >&2
    tail -n 15 "$f" >&2
  done
}

slurm_cluster_start() {
  SLURM_CLUSTER_DIR=$1
  local d=$SLURM_CLUSTER_DIR
  mkdir -p "$d/log" "$d/state" "$d/spool" "$d/munge" "$d/run"
  local missing=()
  for tool in munged mungekey slurmctld slurmd sbatch squeue scontrol sinfo; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    slurm_cluster_log "cannot start a Slurm cluster: missing ${missing[*]} (install munge and slurm-wlm: scripts/setup.sh)"
    return 1
  fi
  # munge: its own key and socket, so the test never depends on (or disturbs) a system munged.
  chmod 700 "$d/munge"
  mungekey --create --keyfile="$d/munge/munge.key" --force >/dev/null 2>&1 ||
    dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 2>/dev/null
  chmod 600 "$d/munge/munge.key"
  if ! munged --force --socket="$d/munge/munge.socket" --key-file="$d/munge/munge.key" \
       --pid-file="$d/munge/munged.pid" --log-file="$d/log/munged.log" \
       --seed-file="$d/munge/munge.seed" >"$d/log/munged.out" 2>&1; then
    slurm_cluster_log "munged did not start: $(cat "$d/log/munged.out" "$d/log/munged.log" 2>/dev/null | tail -n 5)"
    return 1
  fi
  local cpus mem
  cpus=$(getconf _NPROCESSORS_ONLN)  # not nproc: it obeys OMP_NUM_THREADS
  mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
  cat >"$d/slurm.conf" <<CONF
ClusterName=crometest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket,cred_expire=10
SlurmctldPort=$SLURM_CLUSTER_CTLD_PORT
SlurmdPort=$SLURM_CLUSTER_D_PORT
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MaxArraySize=1001
JobRequeue=1
KillWait=10
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  export SLURM_CONF=$d/slurm.conf
  if ! slurmctld -f "$SLURM_CONF" >"$d/log/slurmctld.out" 2>&1; then
    slurm_cluster_log "slurmctld did not start: $(tail -n 5 "$d/log/slurmctld.out" "$d/log/slurmctld.log" 2>/dev/null)"
    return 1
  fi
  if ! slurmd -f "$SLURM_CONF" >"$d/log/slurmd.out" 2>&1; then
    slurm_cluster_log "slurmd did not start: $(tail -n 5 "$d/log/slurmd.out" "$d/log/slurmd.log" 2>/dev/null)"
    return 1
  fi
  # Wait for the node to be idle (60 s at most; sinfo itself may block while slurmctld is down).
  local state deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    state=$(timeout 5 sinfo -h -N -o '%T' 2>/dev/null | head -n 1)
    case $state in idle*) slurm_cluster_log "up: node localhost $state, $cpus CPUs, conf $SLURM_CONF"; return 0 ;; esac
    sleep 1
  done
  slurm_cluster_log "the node never became idle within 60 s (last state: '${state:-none}'; is slurmctld up?)"
  slurm_cluster_dump_logs
  return 1
}

slurm_cluster_stop() {
  local d=${SLURM_CLUSTER_DIR:-}
  [ -n "$d" ] || return 0
  local name pidfile pid
  for name in slurmd slurmctld; do
    pidfile=$d/run/$name.pid
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null
    fi
  done
  if [ -f "$d/munge/munged.pid" ]; then
    pid=$(cat "$d/munge/munged.pid")
    kill "$pid" 2>/dev/null
  fi
  SLURM_CLUSTER_DIR=
}

# Ports of this cluster: two free ones on this machine (never Slurm's defaults), so neither a
# system Slurm nor another test cluster is touched. Override with the two variables.
if [ -z "${SLURM_CLUSTER_CTLD_PORT:-}" ] || [ -z "${SLURM_CLUSTER_D_PORT:-}" ]; then
  read -r SLURM_CLUSTER_CTLD_PORT SLURM_CLUSTER_D_PORT < <(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
fi
