#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "croma/io/run_lock.h"

namespace croma {
namespace {

namespace fs = std::filesystem;

class RunLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base = fs::path(::testing::TempDir()) / ("croma_lock_" + std::to_string(::getpid()));
    fs::remove_all(base);
    fs::create_directories(base);
    dir = base / "run";
  }
  void TearDown() override { fs::remove_all(base); }

  nlohmann::json lock_contents() const {
    std::ifstream in(dir / RunLock::file_name());
    std::stringstream text;
    text << in.rdbuf();
    return nlohmann::json::parse(text.str());
  }
  // A lock as another process left it: `host`, `pid`, a lease, renewed `age` seconds ago.
  void plant(const std::string& host, long pid, double lease, double age) const {
    fs::create_directories(dir);
    const auto lock = dir / RunLock::file_name();
    std::ofstream(lock) << nlohmann::json{{"purpose", "croma train"}, {"host", host}, {"pid", pid},
                                          {"started", "2026-01-01T00:00:00Z"}, {"lease_s", lease}, {"token", "theirs"}}
                               .dump();
    const auto then = std::chrono::system_clock::now() - std::chrono::duration<double>(age);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(then.time_since_epoch()).count();
    struct timespec times[2] = {{ns / 1000000000, ns % 1000000000}, {ns / 1000000000, ns % 1000000000}};
    ASSERT_EQ(::utimensat(AT_FDCWD, lock.c_str(), times, 0), 0);
  }
  static std::string host() {
    char h[256] = {};
    gethostname(h, sizeof h - 1);
    return h;
  }

  fs::path base, dir;
  const RunLockSettings refuse_at_once{60, 0};
};

TEST_F(RunLockTest, HolderIsRecordedAndReleasedAndAMadeDirectoryRemoved) {
  {
    const auto lock = RunLock::acquire(dir, "croma train", refuse_at_once);
    ASSERT_TRUE(fs::exists(dir / RunLock::file_name()));
    const auto holder = lock_contents();
    EXPECT_EQ(holder.at("host"), host());
    EXPECT_EQ(holder.at("pid"), static_cast<long>(getpid()));
    EXPECT_EQ(holder.at("purpose"), "croma train");
    EXPECT_EQ(holder.at("token"), lock->token());
    EXPECT_FALSE(holder.at("pid_start").get<std::string>().empty());
  }
  EXPECT_FALSE(fs::exists(dir)) << "the directory the lock made, still empty, stays behind";
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << "{}";
  { const auto lock = RunLock::acquire(dir, "croma train", refuse_at_once); }
  EXPECT_TRUE(fs::exists(dir / "config.json"));
  EXPECT_FALSE(fs::exists(dir / RunLock::file_name()));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1) << "temporary files left";
}

TEST_F(RunLockTest, ASecondWriterIsRefusedNamingTheHolderAndLeavesItsLockAlone) {
  const auto lock = RunLock::acquire(dir, "croma train", refuse_at_once);
  const auto before = lock_contents();
  try {
    RunLock::acquire(dir, "croma eval", refuse_at_once);
    FAIL() << "a second writer was let in";
  } catch (const RunLockHeld& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("is in use by croma train on host " + host() + ", pid " + std::to_string(getpid())),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("since " + before.at("started").get<std::string>()), std::string::npos) << what;
  }
  EXPECT_EQ(lock_contents(), before);
}

TEST_F(RunLockTest, AHolderWhoseProcessDiedOnThisHostIsTakenOver) {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);  // a pid that no process has now
  plant(host(), child, 60, 0);
  testing::internal::CaptureStderr();
  const auto lock = RunLock::acquire(dir, "croma train", refuse_at_once);
  const auto err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(lock_contents().at("token"), lock->token());
  EXPECT_NE(err.find("warning: taking over the run-directory lock of croma train on host " + host() + ", pid " +
                     std::to_string(child)),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("is gone"), std::string::npos) << err;
}

TEST_F(RunLockTest, AHolderThatExitedButIsNotYetReapedIsTakenOver) {
  // mpirun's ranks linger as zombies after the job ends; kill(pid, 0) still finds them.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // exited; not reaped until waitpid
  plant(host(), child, 60, 0);
  testing::internal::CaptureStderr();
  const auto lock = RunLock::acquire(dir, "croma train", refuse_at_once);
  const auto err = testing::internal::GetCapturedStderr();
  waitpid(child, nullptr, 0);
  EXPECT_EQ(lock_contents().at("token"), lock->token());
  EXPECT_NE(err.find("is gone"), std::string::npos) << err;
}

TEST_F(RunLockTest, AnotherHostsLockHoldsWithinItsLeaseAndIsTakenOverAfterIt) {
  plant("lost-node", 12345, 30, 5);  // renewed 5 s ago: alive as far as anyone can tell
  EXPECT_THROW(RunLock::acquire(dir, "croma train", refuse_at_once), RunLockHeld);
  EXPECT_EQ(lock_contents().at("token"), "theirs");
  plant("lost-node", 12345, 30, 31);  // not renewed for longer than its lease
  testing::internal::CaptureStderr();
  const auto lock = RunLock::acquire(dir, "croma train", refuse_at_once);
  const auto err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(lock_contents().at("token"), lock->token());
  EXPECT_NE(err.find("more than its 30 s lease"), std::string::npos) << err;
}

TEST_F(RunLockTest, WaitingOutALeaseTakesTheLockOnceItExpires) {
  plant("lost-node", 12345, 1.5, 0);
  testing::internal::CaptureStderr();
  const auto start = std::chrono::steady_clock::now();
  const auto lock = RunLock::acquire(dir, "croma train", {60, 20});
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(lock_contents().at("token"), lock->token());
  EXPECT_GE(waited, 1.0);
  EXPECT_LT(waited, 10.0);
}

TEST_F(RunLockTest, TheHolderRenewsItsLock) {
  const auto lock = RunLock::acquire(dir, "croma train", {0.4, 0});  // renewed every 0.1 s
  const auto lock_file = dir / RunLock::file_name();
  struct stat first {};
  ASSERT_EQ(::stat(lock_file.c_str(), &first), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  struct stat later {};
  ASSERT_EQ(::stat(lock_file.c_str(), &later), 0);
  EXPECT_GT(later.st_mtim.tv_sec * 1000000000LL + later.st_mtim.tv_nsec,
            first.st_mtim.tv_sec * 1000000000LL + first.st_mtim.tv_nsec);
}

TEST_F(RunLockTest, TheLeaseComesFromTheEnvironmentAndIsChecked) {
  ::unsetenv("CROMA_LOCK_LEASE_S");
  EXPECT_EQ(lease_from_environment(), 120);
  ::setenv("CROMA_LOCK_LEASE_S", "7.5", 1);
  EXPECT_EQ(lease_from_environment(), 7.5);
  for (const char* bad : {"0", "-3", "ten", "5s", "inf"}) {
    ::setenv("CROMA_LOCK_LEASE_S", bad, 1);
    EXPECT_THROW(lease_from_environment(), std::runtime_error) << bad;
  }
  ::unsetenv("CROMA_LOCK_LEASE_S");
}

}  // namespace
}  // namespace croma
