#pragma once
// Reading files through a library that trusts them. HDF5 1.10 loops forever or crashes on some
// corrupt files (tests/fuzz found a shard that spins inside H5HG_read); croma cannot fix the
// library, but it can make sure such a file ends the job with one clear line instead of a hung
// job or a bare segmentation fault.
//
// While a ReadGuard is alive, (1) a watchdog thread ends the process with exit code 1 and the
// message "<command>: error: reading '<file>' did not finish within N s ..." if the guarded
// read has not finished in time, and (2) SIGSEGV, SIGBUS, SIGFPE and SIGILL raised by the read
// print "<command>: error: the HDF5 library crashed (<signal>) reading '<file>' ..." and exit 1.
// Nothing has been written by then: readers run before the run directory is made.
#include <chrono>
#include <string>

namespace croma {

class ReadGuard {
 public:
  // `command` prefixes the messages ("croma inspect"). Only one guard may be alive at a time.
  ReadGuard(std::string command, std::chrono::seconds limit);
  ~ReadGuard();
  ReadGuard(const ReadGuard&) = delete;
  ReadGuard& operator=(const ReadGuard&) = delete;

  // Names the file now being read, for the messages; a no-op when no guard is alive, so
  // readers call it unconditionally.
  static void reading(const std::string& path);
};

// The watchdog's limit: CROMA_READ_TIMEOUT_S when set (a positive integer), else 600 s, far
// above what reading a healthy shard takes even from a slow parallel file system.
std::chrono::seconds read_time_limit();

}  // namespace croma
