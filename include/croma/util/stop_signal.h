#pragma once
// Stopping a run early but cleanly: SIGTERM (Slurm preemption, scancel, the end of the time
// limit) and SIGUSR1 (what job scripts ask Slurm to send before the limit, `--signal=USR1@T`)
// only set a flag. `croma train` passes the flag into the next meta-step's allreduce, so all
// ranks see the request in the same step, write one checkpoint together at that step
// boundary and exit with kExitCheckpointed. Job scripts requeue on that code.
#include <csignal>

namespace croma {

// EX_TEMPFAIL of sysexits.h: "try again later" -- the run is checkpointed, not finished.
constexpr int kExitCheckpointed = 75;

// Installs the handlers for SIGTERM and SIGUSR1 (idempotent).
void install_stop_handlers();
bool stop_requested();
// For tests and for code that wants to stop a run on its own.
void request_stop();
void clear_stop_request();

}  // namespace croma
