#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for tests/test_slurm.py: Debian's slurm-wlm and munge, started
# without systemd, with GPUs declared as GRES (real /dev/nvidia* devices, or fake character devices).
#
#   bash .ci/slurm-up.sh          # install what is missing, (re)start what is not running, wait for the node
#   bash .ci/slurm-up.sh stop     # stop the daemons this script started (by their recorded PIDs)
#
# Idempotent: when everything is up it only checks (about 0.1 s); a changed configuration restarts the daemons.
# Needs root (apt-get, /etc/slurm, mknod). Knobs (environment):
#   SLURM_UP_GPUS=2          GPUs to declare (0: no GRES); fake ones when the machine has no /dev/nvidia[0-9]*
#   SLURM_UP_INSTALL=1       0: do not apt-get install missing packages (fail instead)
#   SLURM_UP_TIMEOUT=60      seconds to wait for the controller and for the node to become idle
#
# Job status without slurmdbd: profiles/slurm polls with `squeue`, which sees finished jobs for MinJobAge seconds
# (600 here; the plugin needs >= 3 x slurm-init-seconds-before-status-checks). `sacct` would fail here
# ("accounting storage is disabled"), and the plugin would then wait forever.
set -euo pipefail

GPUS=${SLURM_UP_GPUS:-2}
INSTALL=${SLURM_UP_INSTALL:-1}
TIMEOUT=${SLURM_UP_TIMEOUT:-60}
STATE=/run/local-slurm                 # PIDs of the daemons this script started
FAKEGPU=/var/lib/slurm/fakegpu
MARK="# written by .ci/slurm-up.sh"    # only files carrying this line are ever rewritten
PARTITION=main

say() { echo "slurm-up: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (it installs packages, writes /etc/slurm and starts daemons)"

# Is the daemon recorded in $STATE/<name>.pid alive and still that program?
alive() {
    local pid
    pid=$(cat "$STATE/$1.pid" 2>/dev/null) || return 1
    [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]]
}

stop_daemon() {
    local name=$1 pid i
    alive "$name" || { rm -f "$STATE/$name.pid"; return 0; }
    pid=$(cat "$STATE/$name.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do alive "$name" || break; sleep 0.1; done
    alive "$name" && kill -KILL "$pid" 2>/dev/null || true
    rm -f "$STATE/$name.pid"
    say "stopped $name ($pid)"
}

# Stale pid files of exited daemons make Debian's prerm scripts call scancel against a dead controller.
clean_pid_files() {
    local f pid
    for f in /run/slurmctld.pid /run/slurmd.pid; do
        pid=$(cat "$f" 2>/dev/null) || continue
        [[ -d /proc/$pid ]] || rm -f "$f"
    done
}

if [[ ${1:-up} == stop ]]; then
    if alive slurmctld && timeout 10 scontrol ping >/dev/null 2>&1; then
        jobs=$(squeue -h -o %i 2>/dev/null || true)
        [[ -n $jobs ]] && scancel $jobs || true
    fi
    stop_daemon slurmd
    stop_daemon slurmctld
    stop_daemon munged
    clean_pid_files
    exit 0
fi
[[ ${1:-up} == up ]] || die "usage: $0 [up|stop]"

# 1. Packages (only what is missing; package scripts start nothing: there is no systemd).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    [[ $INSTALL == 1 ]] || die "SLURM or munge is not installed and SLURM_UP_INSTALL=0"
    say "installing munge slurmctld slurmd slurm-client"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >/dev/null
fi

# 2. Node facts. RealMemory: 90 % of MemTotal, never above what slurmd itself detects (a higher value drains the node).
NODE=$(hostname -s)
CPUS=$(nproc)
MEM=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
DETECTED=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)
[[ -n $DETECTED && $DETECTED -lt $MEM ]] && MEM=$DETECTED
DEFMEM=$((MEM / CPUS < 1024 ? MEM / CPUS : 1024))   # without DefMemPerCPU a job without --mem takes the whole node

# 3. GPU devices: slurmd drops GPU GRES without File=, so fake GPUs are clones of /dev/null (char 1:3).
GRES_FILES=""
if ((GPUS > 0)); then
    mapfile -t REAL < <(ls /dev/nvidia[0-9]* 2>/dev/null | sort -V)
    if ((${#REAL[@]} >= GPUS)); then
        GRES_FILES="/dev/nvidia[0-$((GPUS - 1))]"
    else
        mkdir -p "$FAKEGPU"
        for ((i = 0; i < GPUS; i++)); do
            [[ -e $FAKEGPU/gpu$i ]] || mknod -m 666 "$FAKEGPU/gpu$i" c 1 3 2>/dev/null \
                || { say "mknod not permitted: plain files as fake GPUs (slurmd logs an error, but counts them)"
                     touch "$FAKEGPU/gpu$i"; }
        done
        GRES_FILES="$FAKEGPU/gpu[0-$((GPUS - 1))]"
    fi
fi

# 4. Configuration files, rewritten only when their content changes (then the daemons restart).
mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm "$STATE"
chown slurm:slurm /var/lib/slurm/slurmctld /var/log/slurm
CHANGED=0
write_conf() {  # write_conf FILE CONTENT
    local file=$1 content="$MARK"$'\n'"$2"
    if [[ -e $file ]] && ! grep -qxF "$MARK" "$file"; then
        die "$file exists and was not written by this script: not touching an existing SLURM installation"
    fi
    if [[ ! -e $file || $(cat "$file") != "$content" ]]; then
        printf '%s\n' "$content" >"$file"
        CHANGED=1
        say "wrote $file"
    fi
}

GRES_NODE="" GRES_TYPES=""
if ((GPUS > 0)); then GRES_NODE=" Gres=gpu:$GPUS"; GRES_TYPES="GresTypes=gpu"; fi
write_conf /etc/slurm/slurm.conf "ClusterName=localcluster
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/lib/slurm/slurmd
StateSaveLocation=/var/lib/slurm/slurmctld
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$DEFMEM
# finished jobs stay visible to squeue (and scontrol show job) for 10 minutes: status polling with squeue
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
$GRES_TYPES
SlurmctldDebug=info
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdDebug=info
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM$GRES_NODE State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
if ((GPUS > 0)); then
    write_conf /etc/slurm/gres.conf "NodeName=$NODE Name=gpu File=$GRES_FILES"
elif [[ -e /etc/slurm/gres.conf ]] && grep -qxF "$MARK" /etc/slurm/gres.conf; then
    rm -f /etc/slurm/gres.conf
    CHANGED=1
fi

# 5. munge (the key comes with the package's postinst).
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    [[ -s /etc/munge/munge.key ]] || {
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    }
    install -d -m 755 -o munge -g munge /run/munge
    stop_daemon munged
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged   # daemonizes itself
    for i in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    cp /run/munge/munged.pid "$STATE/munged.pid" 2>/dev/null || pgrep -u munge -x munged | head -1 >"$STATE/munged.pid"
    munge -n | unmunge >/dev/null || die "munged does not answer"
    say "started munged"
fi

# 6. Controller and compute daemon: restarted on a config change, otherwise started only when not running.
if ((CHANGED)); then stop_daemon slurmd; stop_daemon slurmctld; fi
clean_pid_files
start_daemon() {  # start_daemon NAME: in the foreground mode (-D) under setsid, its PID recorded
    alive "$1" && return 0
    setsid nohup "/usr/sbin/$1" -D </dev/null >>"/var/log/slurm/$1.out" 2>&1 &
    echo $! >"$STATE/$1.pid"
    say "started $1 ($!)"
}
start_daemon slurmctld
for i in $(seq $((TIMEOUT * 5))); do scontrol ping >/dev/null 2>&1 && break; sleep 0.2; done
scontrol ping >/dev/null 2>&1 || { tail -20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmctld.out >&2 || true
                                   die "slurmctld does not answer after ${TIMEOUT}s"; }
start_daemon slurmd

# 7. Wait for the node; resume it once when an earlier bad registration left it drained.
resumed=0
deadline=$((SECONDS + TIMEOUT))
while :; do
    state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null | head -1)
    case $state in
        idle | mix | alloc | comp) break ;;
        drain* | drng* | inval* | down*)
            if ((!resumed)); then
                scontrol update nodename="$NODE" state=resume 2>/dev/null || true
                resumed=1
            fi ;;
    esac
    if ((SECONDS > deadline)); then
        scontrol show node "$NODE" >&2 || true
        tail -20 /var/log/slurm/slurmd.log >&2 || true
        die "node $NODE is '$state', not idle, after ${TIMEOUT}s"
    fi
    sleep 0.5
done

# 8. Smoke test: a job runs, and a GPU job gets CUDA_VISIBLE_DEVICES from SLURM.
out=$(timeout "$TIMEOUT" srun -p "$PARTITION" -n1 -t 1 hostname) || die "srun does not run a job"
if ((GPUS > 0)); then
    gpu=$(timeout "$TIMEOUT" srun -p "$PARTITION" -n1 -t 1 --gpus=1 bash -c 'echo "${CUDA_VISIBLE_DEVICES-unset}"') \
        || die "srun --gpus=1 failed"
    [[ $gpu =~ ^[0-9]+$ ]] || die "a --gpus=1 job saw CUDA_VISIBLE_DEVICES='$gpu'"
fi
say "up: node $out, $CPUS CPUs, ${MEM} MB, $GPUS GPU(s) ${GRES_FILES:+($GRES_FILES)}, partition $PARTITION"
