#pragma once
// One writer per run directory. `croma train` (rank 0, before anything is written) and
// `croma eval` (while it evaluates and writes eval.json) hold <run dir>/croma.lock; a second
// writer is refused at once with one line naming the holder.
//
// The primitive is the one that is atomic on every file system clusters put run directories on
// (NFSv3/v4, Lustre, GPFS, local disks): a lock file made by link(2) from a private temporary
// file, which fails with EEXIST when the name exists. (fcntl/flock locks are not: Lustre and
// GPFS can be mounted with them off or node-local, and NFS needs a lock daemon.) The holder's
// host, pid, process start time and a random token are in the file, so nobody reads a
// half-written holder.
//
// A stale lock does not block forever:
//  - a holder on this host whose process is gone (kill -9, OOM) is taken over at once, with
//    a warning;
//  - a holder on another host renews the lock (its modification time) every lease/4 seconds
//    from a thread of its own; one not renewed for a whole lease (a lost node) is taken over,
//    with a warning. Judging age compares the file system's clock with this host's, so the
//    hosts' clocks must agree to well within a lease, as Slurm and MUNGE already require.
// The lease is CROMA_LOCK_LEASE_S seconds (default 120). `wait_seconds` > 0 waits that long
// for a live holder to finish or go stale before refusing: a job that Slurm requeued after a
// node failure starts while its dead predecessor's lock is still fresh, and waits it out.
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace croma {

// A live writer holds the directory: exit 1, nothing of the holder's touched.
class RunLockHeld : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RunLockSettings {
  double lease_seconds = 120;  // see above; lease_from_environment() reads CROMA_LOCK_LEASE_S
  double wait_seconds = 0;     // how long to wait for a live holder before refusing
};

// CROMA_LOCK_LEASE_S, checked (a positive number of seconds), or the default.
double lease_from_environment();

class RunLock {
 public:
  // Takes `dir`/croma.lock for `purpose` (e.g. "croma train"), making `dir` if it does not
  // exist (and removing it again on release if it is still empty). Throws RunLockHeld when a
  // live writer holds it, std::runtime_error when the lock cannot be made at all.
  static std::unique_ptr<RunLock> acquire(const std::filesystem::path& dir, const std::string& purpose,
                                          const RunLockSettings& settings);
  ~RunLock();  // stops renewing, removes the lock file if it is still this process's
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  static const char* file_name() { return "croma.lock"; }
  const std::string& token() const { return token_; }

 private:
  RunLock(std::filesystem::path dir, std::string token, double lease_seconds, bool made_dir);
  void renew_until_stopped();

  std::filesystem::path dir_;
  std::string token_;
  double lease_seconds_;
  bool made_dir_;
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  std::thread renewer_;
};

}  // namespace croma
