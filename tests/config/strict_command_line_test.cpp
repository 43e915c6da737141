#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "croma/config/options.h"
#include "croma/config/strict_command_line.h"

namespace croma {
namespace {

namespace po = boost::program_options;

class StrictCommandLine : public ::testing::Test {
 protected:
  StrictCommandLine() {
    options.add_options()("steps", po::value<int>(), "")("step-size", po::value<double>(), "")(
        "eval-shots", po::value<std::string>(), "")("head-only", po::bool_switch(), "");
  }
  // The error message parsing `words` gives (empty: accepted).
  std::string error_of(std::vector<std::string> words) const {
    words.insert(words.begin(), "train");
    std::vector<const char*> argv;
    for (const auto& w : words) argv.push_back(w.c_str());
    try {
      po::variables_map vm;
      po::store(parse_strict_command_line(static_cast<int>(argv.size()), argv.data(), options), vm);
      return "";
    } catch (const OptionError& e) {
      return e.what();
    }
  }
  po::options_description options;
};

TEST_F(StrictCommandLine, FullOptionsAreAccepted) {
  EXPECT_EQ(error_of({"--steps", "10", "--eval-shots", "1,5", "--head-only", "--step-size=0.5"}), "");
}

TEST_F(StrictCommandLine, AStrayWordIsRefusedNamingItAndHowListsAreWritten) {
  const auto e = error_of({"--eval-shots", "1", "5"});
  EXPECT_NE(e.find("unexpected word '5' after '--eval-shots 1'"), std::string::npos) << e;
  EXPECT_NE(e.find("--eval-shots 1,5"), std::string::npos) << e;
  EXPECT_NE(error_of({"--steps", "10", "stray"}).find("unexpected word 'stray'"), std::string::npos);
  EXPECT_NE(error_of({"stray"}).find("unexpected word 'stray'"), std::string::npos);
  EXPECT_NE(error_of({"--head-only", "true"}).find("unexpected word 'true'"), std::string::npos);
}

TEST_F(StrictCommandLine, AnAbbreviatedOptionIsRefusedNamingTheFullOnes) {
  const auto one = error_of({"--eval", "1"});
  EXPECT_NE(one.find("unrecognised option '--eval'"), std::string::npos) << one;
  EXPECT_NE(one.find("did you mean --eval-shots?"), std::string::npos) << one;
  const auto two = error_of({"--step", "10"});
  EXPECT_NE(two.find("did you mean --steps or --step-size?"), std::string::npos) << two;
  const auto with_value = error_of({"--head=finetune"});
  EXPECT_NE(with_value.find("did you mean --head-only?"), std::string::npos) << with_value;
  const auto unknown = error_of({"--nonsense", "1"});
  EXPECT_NE(unknown.find("unrecognised option '--nonsense' (see --help)"), std::string::npos) << unknown;
}

}  // namespace
}  // namespace croma
