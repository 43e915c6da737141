#include "croma/io/run_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace croma {
namespace {

std::string this_host() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

// Field `n` (3 = state, 22 = start time) of /proc/PID/stat, empty where /proc does not say.
// Fields are counted after the command name, which may hold spaces and parentheses.
std::string proc_stat_field(long pid, int n) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return "";
  const auto name_end = stat.rfind(')');
  if (name_end == std::string::npos || name_end + 2 > stat.size()) return "";
  std::istringstream fields(stat.substr(name_end + 2));
  std::string field;
  for (int i = 3; i <= n && fields >> field; ++i) {
    if (i == n) return field;
  }
  return "";
}

// Clock ticks after boot when the process started: with the pid, it tells a process from a
// later one that was given the same pid.
std::string process_start(long pid) { return proc_stat_field(pid, 22); }

// A process that has exited but is not yet reaped (a zombie: state Z or X) still answers
// kill(pid, 0); mpirun's ranks are reparented to init and linger so for seconds.
bool exited(long pid) {
  const auto state = proc_stat_field(pid, 3);
  return state == "Z" || state == "X";
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string random_token() {
  std::random_device device;
  std::ostringstream out;
  out << std::hex << device() << device() << getpid();
  return out.str();
}

struct Holder {
  nlohmann::json fields;  // empty when the file could not be read or parsed
  double age_seconds = 0;  // since its last renewal, by this host's clock
};

// The lock file's holder, or nothing when the file has gone (released meanwhile).
std::optional<Holder> read_holder(const fs::path& lock) {
  struct stat st{};
  if (::stat(lock.c_str(), &st) != 0) return std::nullopt;
  Holder h;
  const double mtime = st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9;
  const auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  h.age_seconds = now - mtime;
  std::ifstream in(lock);
  std::stringstream text;
  text << in.rdbuf();
  h.fields = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (h.fields.is_discarded() || !h.fields.is_object()) h.fields = nlohmann::json::object();
  return h;
}

template <class T>
T field(const nlohmann::json& j, const char* key, T fallback) {
  const auto it = j.find(key);
  if (it == j.end()) return fallback;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return fallback;
  }
}

std::string describe(const nlohmann::json& holder) {
  std::ostringstream out;
  out << field<std::string>(holder, "purpose", "a croma process") << " on host "
      << field<std::string>(holder, "host", "?") << ", pid " << field<long>(holder, "pid", 0) << ", since "
      << field<std::string>(holder, "started", "?");
  return out.str();
}

// Why the holder is stale (empty: it is alive, or may be).
std::string staleness(const Holder& h, const std::string& host) {
  const auto holder_host = field<std::string>(h.fields, "host", "");
  const long pid = field<long>(h.fields, "pid", 0);
  if (h.fields.empty()) {
    // Unreadable content: a lock written by something else, or a torn one; judge by age only.
    return h.age_seconds > 2 * RunLockSettings{}.lease_seconds ? "it is unreadable and has not changed for " +
                                                                     std::to_string(std::lround(h.age_seconds)) + " s"
                                                               : "";
  }
  if (holder_host == host && pid > 0) {
    const bool exists = ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
    const auto start = field<std::string>(h.fields, "pid_start", "");
    if (!exists || exited(pid)) return "its process " + std::to_string(pid) + " on this host is gone";
    const auto start_now = process_start(pid);
    if (!start.empty() && !start_now.empty() && start_now != start) {
      return "its process " + std::to_string(pid) + " on this host is gone (the pid now belongs to another)";
    }
    return "";
  }
  const double lease = field<double>(h.fields, "lease_s", RunLockSettings{}.lease_seconds);
  if (h.age_seconds > lease) {
    return "it was last renewed " + std::to_string(std::lround(h.age_seconds)) + " s ago, more than its " +
           std::to_string(std::lround(lease)) + " s lease (a lost node)";
  }
  return "";
}

// Moves a stale lock aside, only if it is still the one judged stale. Returns false when
// somebody else changed it meanwhile (then nothing was taken).
bool remove_stale(const fs::path& lock, const nlohmann::json& judged, const std::string& my_token) {
  const auto aside = lock.parent_path() / (".croma.lock.stale." + my_token);
  if (::rename(lock.c_str(), aside.c_str()) != 0) return false;  // gone already: try again
  const auto moved = read_holder(aside);
  const bool same = moved && moved->fields == judged;
  if (!same) {
    // A fresh lock was made between our read and our rename: put it back.
    if (::link(aside.c_str(), lock.c_str()) != 0) {
      std::cerr << "croma: warning: could not restore the run-directory lock " << lock << " taken meanwhile by "
                << (moved ? describe(moved->fields) : std::string("another process")) << "\n";
    }
  }
  ::unlink(aside.c_str());
  return same;
}

// Makes `lock` atomically from a private file holding `content`. True when made.
bool try_link(const fs::path& lock, const std::string& content, const std::string& token) {
  const auto mine = lock.parent_path() / (".croma.lock." + token);
  {
    std::ofstream out(mine, std::ios::trunc);
    out << content << "\n";
    out.flush();
    if (!out) throw std::runtime_error("cannot write the run-directory lock in '" + lock.parent_path().string() +
                                       "': " + std::strerror(errno));
  }
  bool made = ::link(mine.c_str(), lock.c_str()) == 0;
  const int link_error = errno;
  if (!made) {
    // NFS may report a failure for a link that was made (a retransmitted request): the link
    // count of our own file says what happened.
    struct stat st{};
    if (::stat(mine.c_str(), &st) == 0 && st.st_nlink == 2) made = true;
  }
  ::unlink(mine.c_str());
  if (!made && link_error != EEXIST) {
    throw std::runtime_error("cannot make the run-directory lock '" + lock.string() + "': " + std::strerror(link_error));
  }
  return made;
}

}  // namespace

double lease_from_environment() {
  const char* text = std::getenv("CROMA_LOCK_LEASE_S");
  if (!text || !*text) return RunLockSettings{}.lease_seconds;
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (*end != '\0' || !(seconds > 0) || !std::isfinite(seconds)) {
    throw std::runtime_error(std::string("CROMA_LOCK_LEASE_S='") + text + "' is not a positive number of seconds");
  }
  return seconds;
}

std::unique_ptr<RunLock> RunLock::acquire(const fs::path& dir, const std::string& purpose,
                                          const RunLockSettings& settings) {
  std::error_code ec;
  const bool made_dir = !fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create run directory '" + dir.string() + "': " + ec.message());
  const auto lock = dir / file_name();
  const auto host = this_host();
  const auto token = random_token();
  const nlohmann::json me = {{"purpose", purpose},
                             {"host", host},
                             {"pid", static_cast<long>(getpid())},
                             {"pid_start", process_start(getpid())},
                             {"started", utc_now()},
                             {"lease_s", settings.lease_seconds},
                             {"token", token}};
  const auto give_up_at = std::chrono::steady_clock::now() + std::chrono::duration<double>(settings.wait_seconds);
  bool waited = false;
  while (true) {
    if (try_link(lock, me.dump(), token)) break;
    const auto holder = read_holder(lock);
    if (!holder) continue;  // released between our link and our read
    const auto why = staleness(*holder, host);
    if (!why.empty()) {
      if (remove_stale(lock, holder->fields, token)) {
        std::cerr << "croma: warning: taking over the run-directory lock of " << describe(holder->fields) << " in "
                  << dir.string() << ": " << why << "\n";
      }
      continue;
    }
    if (std::chrono::steady_clock::now() >= give_up_at) {
      std::string message = "run directory '" + dir.string() + "' is in use by " + describe(holder->fields) +
                            " (lock " + lock.string() + ")";
      if (waited) message += "; still held after waiting " + std::to_string(std::lround(settings.wait_seconds)) + " s";
      throw RunLockHeld(message);
    }
    if (!waited && settings.wait_seconds > 0) {
      std::cerr << "croma: run directory " << dir.string() << " is held by " << describe(holder->fields)
                << "; waiting up to " << std::lround(settings.wait_seconds) << " s for it to end or go stale\n";
    }
    waited = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return std::unique_ptr<RunLock>(new RunLock(dir, token, settings.lease_seconds, made_dir));
}

RunLock::RunLock(fs::path dir, std::string token, double lease_seconds, bool made_dir)
    : dir_(std::move(dir)), token_(std::move(token)), lease_seconds_(lease_seconds), made_dir_(made_dir) {
  renewer_ = std::thread([this] { renew_until_stopped(); });
}

void RunLock::renew_until_stopped() {
  const auto lock = dir_ / file_name();
  const auto every = std::chrono::duration<double>(lease_seconds_ / 4);
  std::unique_lock<std::mutex> guard(mutex_);
  bool warned = false;
  while (!stop_requested_.wait_for(guard, every, [this] { return stopping_; })) {
    const auto holder = read_holder(lock);
    if (!holder || field<std::string>(holder->fields, "token", "") != token_) {
      if (!warned) {
        std::cerr << "croma: warning: the run-directory lock " << lock.string() << " is no longer this process's ("
                  << (holder ? "now held by " + describe(holder->fields) : std::string("removed"))
                  << "); another writer may be using the directory\n";
      }
      warned = true;
      continue;
    }
    ::utimensat(AT_FDCWD, lock.c_str(), nullptr, 0);  // now, by the file system's clock
  }
}

RunLock::~RunLock() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  const auto lock = dir_ / file_name();
  const auto holder = read_holder(lock);
  if (holder && field<std::string>(holder->fields, "token", "") == token_) ::unlink(lock.c_str());
  std::error_code ec;
  if (made_dir_ && fs::is_empty(dir_, ec) && !ec) fs::remove(dir_, ec);
}

}  // namespace croma
