#pragma once
// The option registry: every option of `croma train` and `croma eval` is declared once, as one
// entry of a table (src/config/option_table.cpp; `croma study` and `croma advise`:
// study_option_table.cpp); everything else is derived from the tables.
//
// Design
//   - Defaults live in the structs of options.h (member initialisers) and nowhere else. An
//     entry points at a member; the default --help shows is that member's value in the struct
//     being parsed into (default-constructed for `croma train`, bench's settings for `croma
//     bench`, the run's own settings for `croma eval`).
//   - An entry holds the command-line name, the --help group and text, the member it sets (or a
//     source and a target member, for options that take "V" or "S,T"), the allowed values
//     (Domain) and its path in config.json (stored_at; not_stored for a command-only option
//     such as --resume), plus what config.json files written by older versions lack (optional,
//     absent_means) or spell differently (was_renamed).
//   - OptionTable derives from the entries: parsing of the command line and of --config files
//     (Boost.Program_options), --help, each option's range check (an OptionError naming the
//     option), and config.json in both directions.
//   - What no single option can check (--min-frames <= --max-frames, fractions summing below 1,
//     --resume with --overwrite) is a short list of named rules next to validate() in
//     options.cpp; so is the one option whose default follows another (--eval-label-noise).
// Adding an option: its member with its default in options.h, one entry in option_table.cpp
// (docs/options.md). Only a new value type (another enum, say) also needs a ValueRef
// alternative (and, for an enum, its enum_names).
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "croma/config/options.h"

namespace croma {

// The member an option sets, as a pointer of one of the types an option can have.
using ValueRef = std::variant<bool*, std::int64_t*, std::uint64_t*, double*, std::string*,
                              std::vector<std::int64_t>*, std::vector<double>*,
                              std::vector<std::string>*, PairKind*, AlignLossKind*, EncoderKind*,
                              SequencePool*>;

// The names of an enum's values, in the order of its enumerators (the text on the command line
// and in config.json).
template <class Enum>
const std::vector<std::string>& enum_names();

// The values an option allows. For a list, each element; an empty list is never allowed.
struct Domain {
  enum class Rule {
    kAny,
    kAtLeast,       // an integer >= minimum
    kPositive,      // a finite number > 0
    kNonNegative,   // a finite number >= 0
    kFraction,      // in [0, 1)
    kOpenFraction,  // in (0, 1)
    kOneOf,         // one of choices; "cuda:N" stands for cuda:0, cuda:1, ...
    kNonEmptyPath,  // a non-empty string
  };
  Rule rule = Rule::kAny;
  std::int64_t minimum = 0;
  std::vector<std::string> choices;  // kOneOf; also the names of an enum or of a bool ("uni", "bi")
};

template <class Options>
struct OptionEntry {
  using Accessor = std::function<ValueRef(Options&)>;

  std::string name;   // --name on the command line, `name = value` in a --config file
  std::string group;  // --help section
  std::string help;
  Accessor value;     // the member it sets (for a per-modality option: the source's)
  Accessor target_value;            // per-modality options ("V" or "S<sep>T"): the target's
  char modality_separator = ',';
  Domain domain;
  std::string json_path;            // "data.concepts"; per-modality: "*" is source/target
  bool command_only = false;        // never in config.json (a `croma train` option needs this or json_path)
  std::function<bool(const Options&)> stored_if;  // stored only when this holds (else absent)
  bool optional_in_json = false;    // older config.json files lack it: they read the default
  std::string optional_object;      // ... only by lacking this whole object (a path like json_path)
  std::optional<std::string> absent_as;  // ... or this value, as typed on the command line
  std::vector<std::pair<std::string, std::string>> renamed;  // old value in config.json -> current
  bool show_default = true;         // --help shows (=default)
  bool required = false;            // must be given

  bool per_modality() const { return static_cast<bool>(target_value); }
  bool stored() const { return !json_path.empty(); }
  // The JSON pointers of the members (two for a per-modality option); of `path`, default json_path.
  std::vector<std::string> json_pointers(const std::string& path = "") const;

  // Set-up, one call per property, so that a table entry reads as its declaration.
  OptionEntry& stored_at(std::string path) { json_path = std::move(path); return *this; }
  OptionEntry& not_stored() { command_only = true; return *this; }
  OptionEntry& at_least(std::int64_t minimum) { return rule(Domain::Rule::kAtLeast, minimum); }
  OptionEntry& positive() { return rule(Domain::Rule::kPositive); }
  OptionEntry& non_negative() { return rule(Domain::Rule::kNonNegative); }
  OptionEntry& fraction() { return rule(Domain::Rule::kFraction); }
  OptionEntry& open_fraction() { return rule(Domain::Rule::kOpenFraction); }
  OptionEntry& non_empty_path() { return rule(Domain::Rule::kNonEmptyPath); }
  OptionEntry& one_of(std::vector<std::string> choices) {
    domain.choices = std::move(choices);
    return rule(Domain::Rule::kOneOf);
  }
  OptionEntry& for_both_modalities(Accessor target, char separator = ',') {
    target_value = std::move(target);
    modality_separator = separator;
    return *this;
  }
  OptionEntry& stored_when(std::function<bool(const Options&)> condition) {
    stored_if = std::move(condition);
    return *this;
  }
  // Older config.json files lack it (or, with `object`, lack that whole enclosing object,
  // while inside a present one the key is required): they read the default.
  OptionEntry& optional(std::string object = "") {
    optional_in_json = true;
    optional_object = std::move(object);
    return *this;
  }
  OptionEntry& absent_means(std::string text) { absent_as = std::move(text); return *this; }
  OptionEntry& was_renamed(std::string from, std::string to) {
    renamed.emplace_back(std::move(from), std::move(to));
    return *this;
  }
  OptionEntry& without_default() { show_default = false; return *this; }
  OptionEntry& must_be_given() { required = true; show_default = false; return *this; }

 private:
  OptionEntry& rule(Domain::Rule r, std::int64_t minimum = 0) {
    domain.rule = r;
    domain.minimum = minimum;
    return *this;
  }
};

template <class Options>
class OptionTable {
 public:
  using Entry = OptionEntry<Options>;

  // ---- building (option_table.cpp) ----
  // The --help section of the options added next; "General" joins --help and --config.
  void group(std::string title) { group_ = std::move(title); }
  Entry& option(std::string name, typename Entry::Accessor value, std::string help);

  // ---- use ----
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry& entry(const std::string& name) const;  // throws std::out_of_range

  // Parses argv (argv[0] is the command) and any --config FILE (the command line wins) into
  // `options`, converting and range-checking nothing beyond the types. Returns the names of
  // the options given, or nullopt after printing --help under `usage`.
  std::optional<std::set<std::string>> parse(const std::string& usage, int argc, const char* const argv[],
                                             Options& options) const;
  // Sets option `name` from its command-line text, as if it had been typed (no range check:
  // check() does that). Throws std::out_of_range for an unknown name, OptionError for bad text.
  void set_text(const std::string& name, const std::string& text, Options& options) const;
  // Each option's own range; `group` non-empty: only that group's options.
  void check(const Options& options, const std::string& group = "") const;
  // The value as it would be typed on the command line (--help's default).
  std::string text(const Entry& entry, const Options& options) const;
  // --help-markdown: a heading naming the command of `usage` ("usage: croma train ..."), the
  // usage line, and one Markdown table per --help group (option, default in `options`,
  // allowed values, help text), General last.
  std::string markdown(const std::string& usage, const Options& options) const;
  void to_json(const Options& options, nlohmann::json& j) const;
  // Reads every stored option; a missing one that older files may lack takes its default (or
  // absent_as). Throws nlohmann errors for a malformed file, OptionError for a bad value.
  void from_json(const nlohmann::json& j, Options& options) const;

 private:
  std::string group_;
  std::vector<Entry> entries_;
};

// The tables (option_table.cpp).
const OptionTable<TrainOptions>& train_option_table();
const OptionTable<EvalCommandOptions>& eval_option_table();

namespace option_detail {
template <class T>
T& follow(T& object) {
  return object;
}
template <class T, class Member, class... Rest>
auto& follow(T& object, Member member, Rest... rest) {
  return follow(object.*member, rest...);
}
}  // namespace option_detail

// field(&TrainOptions::world, &WorldOptions::concepts): the accessor of o.world.concepts.
template <class Options, class First, class... Rest>
std::function<ValueRef(Options&)> field(First Options::*first, Rest... rest) {
  return [=](Options& o) { return ValueRef(&option_detail::follow(o, first, rest...)); };
}

}  // namespace croma
