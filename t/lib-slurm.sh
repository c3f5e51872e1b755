# A real Slurm cluster for the tests: munged, slurmctld and two slurmd
# "nodes" (n1, n2) of this machine, all in SLURM_DIR (a new directory
# under /tmp: slurm.conf cannot name paths with spaces, as test
# directories have), on free ports, stopped by PID.  Each slurmd runs in a mount namespace of its own where
# $SLURM_HIDE (the coordinator's store) is an empty tmpfs: a worker that
# touched the store directly would fail.  Accounting stays off (squeue
# answers; sacct does not).
#
#   start_slurm HIDE   sets SLURM_DIR, SLURM_CONF (exported for the clients);
#                      SLURM_NODES (2) nodes of SLURM_CPUS (2) CPUs each
#   stop_slurm         stops the daemons and removes SLURM_DIR

slurm_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The daemons' pids, read once they have written them (all daemonize).
slurm_pids() {
	for i in $(seq 1 50); do
		test -f "$SLURM_DIR/munge/pid" && break
		sleep 0.1
	done
	SLURM_PIDS=$(cat "$SLURM_DIR/munge/pid" "$SLURM_DIR"/slurmctld.pid "$SLURM_DIR"/slurmd-*.pid 2>/dev/null)
}

start_slurm() {
	start_slurm_ "$@" && slurm_pids && return 0
	slurm_pids
	return 1
}

start_slurm_() {
	SLURM_HIDE=$1
	SLURM_DIR=$(mktemp -d /tmp/pach-slurm.XXXXXX) || return 1
	SLURM_PIDS=
	mkdir -p "$SLURM_DIR/munge" "$SLURM_DIR/state" "$SLURM_DIR/spool-n1" "$SLURM_DIR/spool-n2" "$SLURM_DIR/log" &&
	chmod 700 "$SLURM_DIR/munge" &&
	dd if=/dev/urandom of="$SLURM_DIR/munge/munge.key" bs=1024 count=1 2>/dev/null &&
	chmod 400 "$SLURM_DIR/munge/munge.key" &&
	munged --force --key-file="$SLURM_DIR/munge/munge.key" --socket="$SLURM_DIR/munge/socket" \
		--pid-file="$SLURM_DIR/munge/pid" --seed-file="$SLURM_DIR/munge/seed" \
		--log-file="$SLURM_DIR/log/munged.log" || return 1
	ctl_port=$(slurm_free_port)
	nodes=$(seq -f "n%g" 1 "${SLURM_NODES:-2}")
	mem=$(awk '/MemTotal/ { print int($2 / 1024 / 4) }' /proc/meminfo)
	cat >"$SLURM_DIR/slurm.conf" <<-CONF
	ClusterName=pachtest
	SlurmctldHost=localhost(127.0.0.1)
	SlurmctldPort=$ctl_port
	SlurmUser=root
	SlurmdUser=root
	AuthType=auth/munge
	AuthInfo=socket=$SLURM_DIR/munge/socket
	CredType=cred/munge
	StateSaveLocation=$SLURM_DIR/state
	SlurmdSpoolDir=$SLURM_DIR/spool-%n
	SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
	SlurmdPidFile=$SLURM_DIR/slurmd-%n.pid
	SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
	SlurmdLogFile=$SLURM_DIR/log/slurmd-%n.log
	ProctrackType=proctrack/linuxproc
	TaskPlugin=task/none
	JobAcctGatherType=jobacct_gather/linux
	JobAcctGatherFrequency=1
	JobAcctGatherParams=OverMemoryKill
	AccountingStorageType=accounting_storage/none
	JobCompType=jobcomp/none
	SelectType=select/cons_tres
	SelectTypeParameters=CR_CPU_Memory
	SchedulerType=sched/backfill
	MpiDefault=none
	ReturnToService=2
	MinJobAge=600
	SlurmdTimeout=30
	InactiveLimit=0
	KillWait=5
	MaxArraySize=1001
	DefMemPerCPU=$((mem / ${SLURM_CPUS:-2}))
	$(for n in $nodes; do
		echo "NodeName=$n NodeHostname=localhost NodeAddr=127.0.0.1 Port=$(slurm_free_port) CPUs=${SLURM_CPUS:-2} RealMemory=$mem State=UNKNOWN"
	done)
	PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
	CONF
	SLURM_CONF=$SLURM_DIR/slurm.conf
	export SLURM_CONF
	slurmctld -f "$SLURM_CONF" -i || return 1
	for n in $nodes; do
		unshare --mount --propagation private sh -c \
			'mount -t tmpfs -o size=1m none "$1" && exec slurmd -f "$2" -N "$3"' sh "$SLURM_HIDE" "$SLURM_CONF" $n ||
			return 1
	done
	# Up when both nodes are idle.
	for i in $(seq 1 100); do
		test "$(sinfo -h -N -o '%N %t' 2>/dev/null | grep -c idle)" = "${SLURM_NODES:-2}" && return 0
		sleep 0.2
	done
	echo "slurm did not come up" >&2
	sinfo -N >&2
	tail -n 20 "$SLURM_DIR"/log/* >&2
	return 1
}

stop_slurm() {
	test -n "$SLURM_DIR" || return 0
	for p in $SLURM_PIDS; do kill "$p" 2>/dev/null || :; done
	for p in $SLURM_PIDS; do
		for i in $(seq 1 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null || :
	done
	SLURM_PIDS=
	rm -rf "$SLURM_DIR"
	SLURM_DIR=
	return 0
}
