// The option tables themselves: properties that hold for every entry, so that an option added
// as one entry is parsed, checked, printed and stored like all the others.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "croma/config/option_registry.h"
#include "test_support.h"

namespace croma {
namespace {

using TrainEntry = OptionEntry<TrainOptions>;

bool is_switch(const ValueRef& ref, const Domain& d) { return std::holds_alternative<bool*>(ref) && d.choices.empty(); }

// A valid value other than `current` (one side of an option), as typed on the command line.
std::string another_value(const ValueRef& ref, const Domain& d, const std::string& current, int side) {
  using Rule = Domain::Rule;
  if (!d.choices.empty()) {
    for (const auto& c : d.choices) {
      if (c != current && c.find(":N") == std::string::npos) return c;
    }
  }
  const auto number = [&](double v) {
    if (d.rule == Rule::kFraction || d.rule == Rule::kOpenFraction) return v > 0 ? v / 2 : 0.25;
    if (d.rule == Rule::kPositive) return v * 2;
    return v + 0.5;
  };
  const auto text_of = [](double v) {
    std::ostringstream out;
    out << v;
    return out.str();
  };
  return std::visit(
      [&](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
          return std::to_string(std::stoll(current) + side);
        } else if constexpr (std::is_same_v<T, double>) {
          return text_of(number(std::stod(current)));
        } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>> || std::is_same_v<T, std::vector<double>>) {
          std::string text;
          std::stringstream in(current);
          for (std::string item; std::getline(in, item, ',');) {
            const double v = std::stod(item);
            text += (text.empty() ? "" : ",") +
                    (std::is_same_v<T, std::vector<double>> ? text_of(number(v)) : std::to_string(static_cast<long long>(v) + side));
          }
          return text;
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          return "/shards/elsewhere.h5";
        } else {
          return current + "x";  // free text (--method, --run-dir, --checkpoint)
        }
      },
      ref);
}

// The arguments that set `e` to a value other than its default.
template <class Options>
std::vector<std::string> arguments_changing(const OptionTable<Options>& table, const OptionEntry<Options>& e) {
  Options defaults;
  if (is_switch(e.value(defaults), e.domain)) return {"--" + e.name};
  const auto current = table.text(e, defaults);
  if (!e.per_modality()) return {"--" + e.name, another_value(e.value(defaults), e.domain, current, 1)};
  const auto source = another_value(e.value(defaults), e.domain, current, 1);
  const auto target = another_value(e.target_value(defaults), e.domain, current, 2);
  return {"--" + e.name, source + std::string(1, e.modality_separator) + target};
}

std::string help_of(const std::vector<std::string>& args, bool train = true) {
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  ::testing::internal::CaptureStdout();
  TrainOptions t;
  EvalCommandOptions e;
  const bool parsed = train ? parse_train_options(static_cast<int>(argv.size()), argv.data(), t)
                            : parse_eval_options(static_cast<int>(argv.size()), argv.data(), e);
  EXPECT_FALSE(parsed);
  return ::testing::internal::GetCapturedStdout();
}

template <class Options>
void expect_each_option_once_in_help(const OptionTable<Options>& table, const std::string& help) {
  const std::regex option_line("\n  --[a-z0-9-]+");
  const auto option_lines = std::distance(std::sregex_iterator(help.begin(), help.end(), option_line), std::sregex_iterator());
  EXPECT_EQ(option_lines, static_cast<long>(table.entries().size()) + 2) << "every entry plus --config and --help-markdown";
  for (const auto& e : table.entries()) {
    const std::regex line("\n  --" + e.name + "( |\n)");
    const auto n = std::distance(std::sregex_iterator(help.begin(), help.end(), line), std::sregex_iterator());
    EXPECT_EQ(n, 1) << "--" << e.name;
  }
}

TEST(OptionRegistry, EveryOptionAppearsInHelpExactlyOnce) {
  expect_each_option_once_in_help(train_option_table(), help_of({"train", "--help"}));
  expect_each_option_once_in_help(eval_option_table(), help_of({"eval", "--help"}, false));
}

TEST(OptionRegistry, HelpGroupsFollowTheTableAndShowTheStructDefaults) {
  const auto help = help_of({"train", "--help"});
  const auto& table = train_option_table();
  TrainOptions defaults;
  std::size_t at = 0;
  std::string group;
  for (const auto& e : table.entries()) {
    if (e.group != group) {
      group = e.group;
      const auto title = help.find("\n" + group + ":\n", at);
      ASSERT_NE(title, std::string::npos) << group;
      at = title;
    }
    const auto line = help.find("\n  --" + e.name, at);
    ASSERT_NE(line, std::string::npos) << "--" << e.name << " under " << group;
    at = line;
    // Boost prints real numbers at full precision (0.59999999999999998); every other default
    // as the table's text.
    const auto ref = e.value(defaults);
    if (!e.show_default || is_switch(ref, e.domain) || std::holds_alternative<double*>(ref)) continue;
    const auto expected = "--" + e.name + " arg (=" + table.text(e, defaults) + ")";
    EXPECT_EQ(help.compare(line + 3, expected.size(), expected), 0) << expected;
  }
}

// --help-markdown: one row per entry, under its group's heading in table order, with the
// struct default and the allowed values in words.
TEST(OptionRegistry, HelpMarkdownHasEveryOptionOnceUnderItsGroup) {
  const auto md = help_of({"train", "--help-markdown"});
  const auto& table = train_option_table();
  const TrainOptions defaults;
  EXPECT_EQ(md.rfind("## croma train\n", 0), 0u) << md.substr(0, 80);
  const std::regex row("\n\\| `--[a-z0-9-]+`");
  EXPECT_EQ(std::distance(std::sregex_iterator(md.begin(), md.end(), row), std::sregex_iterator()),
            static_cast<long>(table.entries().size()) + 3)
      << "every entry plus --help, --help-markdown and --config";
  std::size_t at = 0;
  std::string group;
  for (const auto& e : table.entries()) {
    if (e.group != group) {
      group = e.group;
      const auto title = md.find("\n### " + group + "\n", at);
      ASSERT_NE(title, std::string::npos) << group;
      at = title;
    }
    const auto line = md.find("\n| `--" + e.name + "` | ", at);
    ASSERT_NE(line, std::string::npos) << "--" << e.name << " under " << group;
    at = line;
    if (!e.show_default || is_switch(e.value(const_cast<TrainOptions&>(defaults)), e.domain)) continue;
    const auto expected = "| `--" + e.name + "` | `" + table.text(e, defaults) + "` | ";
    EXPECT_EQ(md.compare(line + 1, expected.size(), expected), 0) << expected;
  }
  EXPECT_NE(md.find("| `--ways` | `5` | integer >= 2 | classes per episode (N) |"), std::string::npos);
  EXPECT_NE(md.find("| `--overwrite` | off | flag (no value) |"), std::string::npos);
  EXPECT_NE(md.find("| `--eval-label-noise` | `0` | comma-separated list, each number in [0, 1) |"), std::string::npos);
  EXPECT_NE(md.find("| `--pairs` | `strong` | `strong`, `weak` |"), std::string::npos);
  EXPECT_NE(md.find("| `--seq-pool` | `max` | `last`, `mean`, `max`; one value for both modalities, or source,target |"),
            std::string::npos);
  EXPECT_NE(md.find("| comma-separated list, each integer >= 1; one value for both modalities, or source/target |"),
            std::string::npos);
  // A pipe inside help text is escaped, so that it stays in its cell.
  EXPECT_NE(md.find("auto \\| fused \\| autograd"), std::string::npos);

  const auto eval_md = help_of({"eval", "--help-markdown"}, false);
  EXPECT_EQ(eval_md.rfind("## croma eval\n", 0), 0u);
  EXPECT_NE(eval_md.find("| `--run-dir` | required | text |"), std::string::npos) << eval_md;
}

TEST(OptionRegistry, DefaultsAreTheStructDefaults) {
  const TrainOptions defaults;
  const auto parsed = testing::parse_train_args({});
  EXPECT_EQ(nlohmann::json(parsed), nlohmann::json(defaults));
  for (const auto& e : train_option_table().entries()) {
    EXPECT_EQ(train_option_table().text(e, parsed), train_option_table().text(e, defaults)) << "--" << e.name;
  }
  const char* argv[] = {"eval", "--run-dir", "r"};
  EvalCommandOptions eval_parsed;
  ASSERT_TRUE(parse_eval_options(3, argv, eval_parsed));
  const EvalCommandOptions eval_defaults;
  for (const auto& e : eval_option_table().entries()) {
    if (e.name == "run-dir") continue;
    EXPECT_EQ(eval_option_table().text(e, eval_parsed), eval_option_table().text(e, eval_defaults)) << "--" << e.name;
  }
  EXPECT_FALSE(eval_parsed.eval_overridden);
}

TEST(OptionRegistry, EveryOptionParsesAndEveryStoredOneRoundTripsThroughJson) {
  const auto& table = train_option_table();
  const TrainOptions defaults;
  const nlohmann::json default_json = defaults;
  for (const auto& e : table.entries()) {
    const auto args = arguments_changing(table, e);
    SCOPED_TRACE(args.back());
    const auto o = testing::parse_train_args(args);
    EXPECT_NE(table.text(e, o), table.text(e, defaults)) << "--" << e.name << " did not change its member";
    const nlohmann::json j = o;
    for (const auto& pointer : e.json_pointers()) {
      if (!e.stored()) break;
      ASSERT_TRUE(j.contains(nlohmann::json::json_pointer(pointer))) << pointer;
      if (e.per_modality() || e.name == "data") continue;  // compared as text below
      EXPECT_NE(j.at(nlohmann::json::json_pointer(pointer)), default_json.value(nlohmann::json::json_pointer(pointer), nlohmann::json()))
          << pointer;
    }
    TrainOptions back;
    from_json(j, back);
    EXPECT_EQ(nlohmann::json(back), j);
    if (e.stored()) {
      EXPECT_EQ(table.text(e, back), table.text(e, o)) << "--" << e.name;
    } else {
      EXPECT_EQ(j, default_json) << "--" << e.name << " is command-only but reached config.json";
    }
  }
}

TEST(OptionRegistry, EveryEvalCommandOptionParses) {
  const auto& table = eval_option_table();
  const EvalCommandOptions defaults;
  for (const auto& e : table.entries()) {
    auto args = arguments_changing(table, e);
    if (e.name != "run-dir") args.insert(args.end(), {"--run-dir", "r"});
    args.insert(args.begin(), "eval");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    EvalCommandOptions o;
    ASSERT_TRUE(parse_eval_options(static_cast<int>(argv.size()), argv.data(), o)) << args[1];
    EXPECT_NE(table.text(e, o), table.text(e, defaults)) << "--" << e.name;
    EXPECT_EQ(o.eval_overridden, e.group == "Few-shot evaluation") << "--" << e.name;
  }
}

// A value outside the option's domain; nullopt where every value of its type is allowed.
std::optional<std::string> out_of_range(const Domain& d) {
  using Rule = Domain::Rule;
  switch (d.rule) {
    case Rule::kAtLeast: return std::to_string(d.minimum - 1);
    case Rule::kPositive: return "0";
    case Rule::kNonNegative: return "-1";
    case Rule::kFraction: return "1";
    case Rule::kOpenFraction: return "0";
    case Rule::kOneOf: return "bogus";
    case Rule::kNonEmptyPath: return "";
    case Rule::kAny: return std::nullopt;
  }
  return std::nullopt;
}

TEST(OptionRegistry, ARangeViolationNamesTheOption) {
  std::size_t checked = 0;
  for (const auto& e : train_option_table().entries()) {
    const auto bad = out_of_range(e.domain);
    if (!bad) continue;
    ++checked;
    const auto error = testing::train_option_error({"--" + e.name, *bad});
    EXPECT_EQ(error.rfind("invalid value for --" + e.name + ": ", 0), 0u) << error;
  }
  EXPECT_GT(checked, 60u);
  for (const auto& e : eval_option_table().entries()) {
    const auto bad = out_of_range(e.domain);
    if (!bad) continue;
    const std::string name = "--" + e.name;
    const char* argv[] = {"eval", "--run-dir", "r", name.c_str(), bad->c_str()};
    EvalCommandOptions o;
    try {
      parse_eval_options(5, argv, o);
      ADD_FAILURE() << name << " " << *bad << " was accepted";
    } catch (const OptionError& error) {
      EXPECT_EQ(std::string(error.what()).rfind("invalid value for " + name + ": ", 0), 0u) << error.what();
    }
  }
}

TEST(OptionRegistry, NamesAndJsonPathsAreUniqueAndConfigJsonHoldsNothingElse) {
  std::set<std::string> names, pointers;
  TrainOptions o;
  o.data = {"/shards/a.h5"};  // files are stored only for shard runs
  o.prep.class_split_seed = 1;  // and a class split seed only where it redraws the split
  for (const auto& e : train_option_table().entries()) {
    EXPECT_TRUE(names.insert(e.name).second) << "--" << e.name << " declared twice";
    // Storing is a decision, never an omission: a run must be resumable and evaluable from its
    // config.json alone.
    EXPECT_NE(e.stored(), e.command_only) << "--" << e.name << ": stored_at(path) or not_stored()";
    if (!e.stored()) continue;
    for (const auto& p : e.json_pointers()) EXPECT_TRUE(pointers.insert(p).second) << p << " stored twice";
  }
  std::set<std::string> leaves;
  const auto flat = nlohmann::json(o).flatten();
  for (const auto& [pointer, value] : flat.items()) {
    // Lists flatten into their elements: /eval/shots/0 belongs to /eval/shots.
    leaves.insert(std::regex_replace(pointer, std::regex("/[0-9]+$"), ""));
  }
  pointers.insert("/data/source");  // which data the run read: derived, not an option
  EXPECT_EQ(leaves, pointers);
}

TEST(OptionRegistry, OlderConfigFilesStillLoad) {
  nlohmann::json j = testing::parse_train_args({"--source-encoder", "lstm", "--standardize", "on", "--method", "oracle"});
  j["meta"]["method"] = "unimodal-pretrain";  // renamed since
  for (const char* key : {"classes_per_cluster", "source_form", "target_form", "min_frames", "max_frames", "frame_dim",
                          "vocab", "image_size", "image_channels", "standardize", "val_split", "val_items_fraction"}) {
    j["data"].erase(key);
  }
  j["model"].erase("source_encoder");
  j["model"].erase("target_encoder");
  j["meta"].erase("inner_loop");
  TrainOptions back;
  back.world.vocab = 3;  // an absent option takes its default, not what the struct held before
  from_json(j, back);
  EXPECT_EQ(back.meta.method, "target-autoencoder");
  EXPECT_EQ(back.prep.standardize, "off");
  EXPECT_EQ(back.prep.val_split, "classes");
  EXPECT_EQ(back.model.source_encoder.kind, EncoderKind::kMlp);
  EXPECT_EQ(back.world.vocab, WorldOptions().vocab);
  EXPECT_EQ(back.meta.inner_loop, "auto");
  // An encoder object is absent as a whole in older files; one that is present is complete.
  nlohmann::json partial = testing::parse_train_args({});
  partial["model"]["target_encoder"].erase("lstm_hidden");
  EXPECT_THROW(from_json(partial, back), OptionError);
}

}  // namespace
}  // namespace croma
