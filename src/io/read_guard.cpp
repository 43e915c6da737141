#include "croma/io/read_guard.h"

#include <unistd.h>

#include <array>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace croma {
namespace {

constexpr int kGuardedSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};

// State the signal handler reads: prepared outside the handler, since a handler may only
// call async-signal-safe functions (write, _exit).
struct GuardState {
  std::mutex mutex;
  std::condition_variable finished;
  bool active = false, done = false;
  std::string command;
  std::array<char, 4096> crash_prefix{};   // "<command>: error: the HDF5 library crashed ("
  std::array<char, 4096> crash_suffix{};   // ") reading '<file>': the file is corrupt\n"
  std::size_t prefix_len = 0, suffix_len = 0;
  std::string file = "(no file yet)";
  struct sigaction previous[std::size(kGuardedSignals)];
  std::thread watchdog;
};

GuardState& state() {
  static GuardState s;
  return s;
}

std::size_t copy_into(std::array<char, 4096>& out, const std::string& text) {
  const std::size_t n = std::min(text.size(), out.size());
  std::memcpy(out.data(), text.data(), n);
  return n;
}

void prepare_crash_message(GuardState& s) {
  s.prefix_len = copy_into(s.crash_prefix, s.command + ": error: the HDF5 library crashed (");
  s.suffix_len = copy_into(s.crash_suffix, ") reading '" + s.file + "': the file is corrupt\n");
}

void on_fatal_signal(int sig) {
  auto& s = state();
  const char* name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE" : "SIGILL";
  // Best effort: nothing useful is left to do if stderr is gone.
  [[maybe_unused]] auto a = write(STDERR_FILENO, s.crash_prefix.data(), s.prefix_len);
  [[maybe_unused]] auto b = write(STDERR_FILENO, name, std::strlen(name));
  [[maybe_unused]] auto c = write(STDERR_FILENO, s.crash_suffix.data(), s.suffix_len);
  _exit(1);
}

}  // namespace

ReadGuard::ReadGuard(std::string command, std::chrono::seconds limit) {
  auto& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.active) throw std::logic_error("ReadGuard: a guard is already active");
    s.active = true;
    s.done = false;
    s.command = std::move(command);
    s.file = "(no file yet)";
    prepare_crash_message(s);
  }
  struct sigaction action {};
  action.sa_handler = on_fatal_signal;
  sigemptyset(&action.sa_mask);
  for (std::size_t i = 0; i < std::size(kGuardedSignals); ++i) {
    sigaction(kGuardedSignals[i], &action, &s.previous[i]);
  }
  s.watchdog = std::thread([limit] {
    auto& st = state();
    std::unique_lock<std::mutex> lock(st.mutex);
    if (st.finished.wait_for(lock, limit, [&] { return st.done; })) return;
    const std::string message = st.command + ": error: reading '" + st.file + "' did not finish within " +
                                std::to_string(limit.count()) +
                                " s; the HDF5 library is stuck on a corrupt file (limit: CROMA_READ_TIMEOUT_S)\n";
    [[maybe_unused]] auto n = write(STDERR_FILENO, message.data(), message.size());
    _exit(1);
  });
}

ReadGuard::~ReadGuard() {
  auto& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.done = true;
  }
  s.finished.notify_all();
  s.watchdog.join();
  for (std::size_t i = 0; i < std::size(kGuardedSignals); ++i) {
    sigaction(kGuardedSignals[i], &s.previous[i], nullptr);
  }
  std::lock_guard<std::mutex> lock(s.mutex);
  s.active = false;
}

void ReadGuard::reading(const std::string& path) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.active) return;
  s.file = path;
  prepare_crash_message(s);
}

std::chrono::seconds read_time_limit() {
  if (const char* text = std::getenv("CROMA_READ_TIMEOUT_S")) {
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (end != text && *end == '\0' && value > 0) return std::chrono::seconds(value);
    throw std::invalid_argument(std::string("invalid value for CROMA_READ_TIMEOUT_S: ") + text +
                                " (must be a positive number of seconds)");
  }
  return std::chrono::seconds(600);
}

}  // namespace croma
