#include "croma/config/method_defaults.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "croma/config/option_registry.h"
#include "croma/meta/method.h"
#include "test_support.h"

namespace croma {
namespace {

nlohmann::json stored(const TrainOptions& o) {
  nlohmann::json j;
  train_option_table().to_json(o, j);
  return j;
}

std::string text_of(const TrainOptions& o, const std::string& option) {
  const auto& table = train_option_table();
  return table.text(table.entry(option), o);
}

TEST(MethodDefaults, CromaKeepsTheStructDefaults) {
  EXPECT_TRUE(method_defaults("croma").empty());
  EXPECT_EQ(stored(testing::parse_train_args({})), stored(TrainOptions{}));
  EXPECT_EQ(stored(testing::parse_train_args({"--method", "croma"})), stored(TrainOptions{}));
}

TEST(MethodDefaults, EveryEntryIsAKnownMethodAndAValidOptionThatChangesADefault) {
  const auto methods = methods_with_own_defaults();
  ASSERT_FALSE(methods.empty());
  for (const auto& method : methods) {
    EXPECT_NO_THROW(parse_method(method)) << method;
    ASSERT_FALSE(method_defaults(method).empty()) << method;
    const auto o = testing::parse_train_args({"--method", method});
    const TrainOptions plain;
    for (const auto& d : method_defaults(method)) {
      ASSERT_NO_THROW(train_option_table().entry(d.option)) << method << ": --" << d.option;
      // Applied, and different from CroMA's default (else the entry would say nothing).
      TrainOptions alone;
      train_option_table().set_text(d.option, d.value, alone);
      EXPECT_EQ(text_of(o, d.option), text_of(alone, d.option)) << method << ": --" << d.option;
      EXPECT_NE(text_of(o, d.option), text_of(plain, d.option)) << method << ": --" << d.option;
    }
  }
}

TEST(MethodDefaults, TheCommandLineAndConfigFilesWin) {
  const std::string method = methods_with_own_defaults().front();
  const auto& entries = method_defaults(method);
  const auto& first = entries.front();
  const TrainOptions plain;
  // The given option keeps the given (here: CroMA's) value; the method's other entries apply.
  const auto o = testing::parse_train_args({"--method", method, "--" + first.option, text_of(plain, first.option)});
  EXPECT_EQ(text_of(o, first.option), text_of(plain, first.option));
  for (std::size_t i = 1; i < entries.size(); ++i) {
    TrainOptions alone;
    train_option_table().set_text(entries[i].option, entries[i].value, alone);
    EXPECT_EQ(text_of(o, entries[i].option), text_of(alone, entries[i].option)) << entries[i].option;
  }
  const std::string path = ::testing::TempDir() + "method_defaults_test.cfg";
  {
    std::ofstream f(path);
    f << first.option << " = " << text_of(plain, first.option) << "\n";
  }
  const auto from_file = testing::parse_train_args({"--method", method, "--config", path});
  std::remove(path.c_str());
  EXPECT_EQ(text_of(from_file, first.option), text_of(plain, first.option));
}

TEST(MethodDefaults, ACallerWithItsOwnSettingsKeepsThem) {
  // croma bench parses into its fixed problem: every method is timed on the same settings.
  const std::string method = methods_with_own_defaults().front();
  TrainOptions base;
  base.model.hidden = 77;
  const TrainOptions start = base;
  std::vector<std::string> args{"bench", "--method", method};
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  ASSERT_TRUE(parse_train_options(static_cast<int>(argv.size()), argv.data(), base));
  EXPECT_EQ(base.meta.method, method);
  base.meta.method = start.meta.method;
  EXPECT_EQ(stored(base), stored(start));
}

TEST(MethodDefaults, UnknownMethodsHaveNone) {
  EXPECT_TRUE(method_defaults("no-such-method").empty());
  EXPECT_THROW(train_option_table().set_text("no-such-option", "1", *std::make_unique<TrainOptions>()),
               std::out_of_range);
}

}  // namespace
}  // namespace croma
